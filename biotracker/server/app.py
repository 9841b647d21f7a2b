"""The ASGI application: routes, request-size limit, security headers and structured access logs."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from biotracker.config import Settings
from biotracker.db.engine import open_store
from biotracker.server import api, auth, contribute, taxii
from biotracker.server.context import ServerContext, utc_now
from biotracker.server.docs import mount_docs
from biotracker.server.visibility import Rules
from biotracker.web import install as install_pages

access_log = logging.getLogger("biotracker.server.access")
log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413, by Content-Length up front or while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        # Read the body up front (at most max_bytes of it) and replay it: simple, and a body that
        # streams in without a Content-Length is held to the same limit.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _too_large(self.max_bytes)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _too_large(max_bytes: int) -> Response:
    return JSONResponse(
        status_code=413,
        content={"detail": f"body: larger than {max_bytes} bytes; send fewer reports per request"},
    )


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(
    settings: Settings, engine: Engine | None = None, clock: Callable[..., Any] = utc_now
) -> FastAPI:
    """The server over ``settings``' store (migrated on start); ``engine`` and ``clock`` are test seams."""
    from biotracker.outputs.audience import registered_source_kinds

    engine = engine or open_store(settings)
    secret = settings.server_secret_key
    if not secret:
        secret = secrets.token_urlsafe(32)
        log.warning("BIOTRACKER_SERVER_SECRET_KEY is not set: using a random key, sessions end on restart")
    rules = Rules(settings.community_org, registered_source_kinds(), settings.allow_anonymous)
    contribute.ensure_health_row(engine)
    app = FastAPI(
        title="Biotracker",
        version="1",
        description="The shared repository of biological-incident reports and alerts, under TLP 2.0 (docs/ACCESS.md).",
        docs_url=None,  # served from vendored files: server/docs.py
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.ctx = ServerContext(
        settings=settings, engine=engine, secret_key=secret, rules=rules, clock=clock
    )
    app.include_router(api.router)
    app.include_router(auth.router)
    taxii.mount(app)
    mount_docs(app)
    install_pages(app)  # the analyst workbench (biotracker/web): pages and their static files

    @app.middleware("http")
    async def access_logged(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        ms = round((time.perf_counter() - started) * 1000, 1)
        response.headers["Server-Timing"] = f"app;dur={ms}"  # what benchmarks/serve.py reports as server time
        access_log.info(
            json.dumps(
                {
                    "event": "request",
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": ms,
                    "user": getattr(request.state, "user", None),
                    "remote": request.client.host if request.client else None,
                }
            )
        )
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.server_max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """The application over the settings of the environment (what each uvicorn worker process builds)."""
    from biotracker.config import load_settings

    app = create_app(load_settings())
    contribute.warm_up()
    return app


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Run the server until stopped (Ctrl-C / SIGTERM); ``workers`` > 1 runs that many processes."""
    import uvicorn

    from biotracker.errors import ConfigError

    logging.getLogger("biotracker.server.access").setLevel(logging.INFO)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "info",
        "proxy_headers": True,
    }
    if workers == 1:
        app = create_app(settings)
        contribute.warm_up()
        uvicorn.run(app, **options)
        return
    if not settings.server_secret_key:
        raise ConfigError(
            "several workers must share one cookie key: set BIOTRACKER_SERVER_SECRET_KEY (a long random string)"
        )
    open_store(settings).dispose()  # migrate once, before the workers start
    uvicorn.run(
        "biotracker.server.app:app_from_environment",
        factory=True,
        workers=workers,
        **options,
    )
