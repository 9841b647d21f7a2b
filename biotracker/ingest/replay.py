"""Replay recorded real payloads through a local HTTP server (demo and tests; no internet).

Each connector's recordings live in ``<recordings>/<connector>/cassette.yaml``::

    provenance: "repo owner/name, path, commit, licence"
    recording: real            # real | real (scraper output) | constructed from documentation
    interactions:
      - url: https://www.who.int/api/news/diseaseoutbreaknews?...
        status: 200
        content_type: application/json
        body_file: page1.json

The server answers ``/<scheme>/<host><path>?<query>`` (see ``RewriteTransport``) with the recorded
response; an unrecorded address gets 404, exactly as a real service would answer a bad URL. A
recorded ``ETag`` / ``Last-Modified`` header is honoured: a matching conditional request gets 304.
Drop-folder connectors have ``drop_folder: drop`` instead of interactions (files replayed as dropped).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml

from biotracker.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Interaction:
    url: str
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def canonical_url(url: str) -> str:
    """Scheme, host, path and sorted query: two spellings of one request match."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}" + (f"?{query}" if query else "")


def read_cassette(folder: Path) -> dict:
    """The cassette document of one connector's recording folder (ConfigError when missing)."""
    path = folder / "cassette.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing: record the connector with `biotracker connectors record`"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("provenance", "")).strip():
        raise ConfigError(f"{path} has no provenance: say where every recorded file comes from")
    return doc


def load_cassette(folder: Path) -> tuple[str, list[Interaction]]:
    """(provenance, interactions) of one connector's recording folder."""
    doc = read_cassette(folder)
    interactions = []
    for entry in doc.get("interactions", []):
        try:
            body = (
                (folder / entry["body_file"]).read_bytes()
                if "body_file" in entry
                else entry.get("body", "").encode()
            )
        except OSError as exc:
            raise ConfigError(
                f"{folder / 'cassette.yaml'} names {entry['body_file']}, which cannot be read ({exc}); "
                "re-record the connector with `biotracker connectors record`"
            ) from exc
        interactions.append(
            Interaction(
                url=entry["url"],
                status=int(entry.get("status", 200)),
                body=body,
                content_type=entry.get("content_type"),
                headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
            )
        )
    return str(doc.get("provenance", "")), interactions


class ReplayServer:
    """A threaded local HTTP server answering recorded requests; use as a context manager."""

    def __init__(self, interactions: list[Interaction] | None = None) -> None:
        self._routes: dict[str, list[Interaction]] = {}
        self.requests: list[str] = []
        #: Recording folders that could not be loaded, with the reason (their URLs answer 404).
        self.broken: dict[str, str] = {}
        for item in interactions or []:
            self.add(item)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_recordings(cls, recordings: Path, names: list[str] | None = None) -> ReplayServer:
        server = cls()
        for folder in sorted(p for p in recordings.iterdir() if (p / "cassette.yaml").exists()):
            if names is None or folder.name in names:
                try:
                    interactions = load_cassette(folder)[1]
                except ConfigError as exc:  # only this connector's requests go unanswered (404)
                    log.error("replay: skipping the recordings of %s: %s", folder.name, exc)
                    server.broken[folder.name] = str(exc)
                    continue
                for item in interactions:
                    server.add(item)
        return server

    def add(self, item: Interaction, *, replace: bool = False) -> None:
        """Serve ``item`` for its URL; several items for one URL are served in turn, the last repeats."""
        key = canonical_url(item.url)
        if replace:
            self._routes[key] = []
        self._routes.setdefault(key, []).append(item)

    def _answer(self, original_url: str) -> Interaction:
        self.requests.append(original_url)
        queue = self._routes.get(canonical_url(original_url))
        if not queue:
            return Interaction(url=original_url, status=404, body=b"not recorded", content_type="text/plain")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes | bytearray):  # socketserver types the host as str or bytes
            host = host.decode()
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                scheme, _, rest = self.path.lstrip("/").partition("/")
                item = replay._answer(f"{scheme}://{rest}")
                if item.status == 200 and _not_modified(item.headers, self.headers):
                    self.send_response(304)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(item.status)
                if item.content_type:
                    self.send_header("Content-Type", item.content_type)
                for key, value in item.headers.items():
                    self.send_header(key, value)
                if not any(k.lower() == "content-length" for k in item.headers):
                    self.send_header("Content-Length", str(len(item.body)))
                self.end_headers()
                self.wfile.write(item.body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.do_GET()

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("replay: " + fmt, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="replay-server", daemon=True
        )
        self._thread.start()
        log.info("replaying recordings at %s", self.base_url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _not_modified(recorded: dict[str, str], request: Message) -> bool:
    """True when the request's validators match the recorded response's (conditional GET)."""
    headers = {k.lower(): v for k, v in recorded.items()}
    etag = headers.get("etag")
    since = headers.get("last-modified")
    asked_etag = request.get("If-None-Match")
    asked_since = request.get("If-Modified-Since")
    if etag and asked_etag:
        return asked_etag == etag
    return bool(since and asked_since and asked_since == since)
