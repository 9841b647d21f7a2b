"""TAXII 2.1 (OASIS, read-only) inside ``biotracker serve``: OpenCTI and other STIX consumers pull
Biotracker's incidents without custom code.

=========================================================  ====================================
``GET /taxii2/``                                           discovery: the one API root
``GET /taxii2/biotracker/``                                API root information
``GET /taxii2/biotracker/collections/``                    the collections the caller may read
``GET /taxii2/biotracker/collections/{id}/``               one collection
``GET /taxii2/biotracker/collections/{id}/objects/``       STIX objects: ``added_after``, ``limit``,
                                                           ``next``, ``match[type|id|version|spec_version]``
``GET …/collections/{id}/objects/{object_id}/``            one object
``GET …/collections/{id}/objects/{object_id}/versions/``   its (one) version
``GET …/collections/{id}/manifest/``                       manifest records, same filters
=========================================================  ====================================

Callers authenticate like on the REST API (``Authorization: Bearer <token>``, or a session), or
with HTTP Basic whose password is the API token (for clients that only do Basic); no credentials
answer 401. A collection the caller may not read answers 404 exactly like one that does not exist.
Reads of TLP:AMBER and AMBER+STRICT records are audited as on the REST API. What each collection
holds is decided in :mod:`biotracker.server.taxii_collections`.
"""

from __future__ import annotations

import base64
import binascii
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from biotracker.server import auth
from biotracker.server.audit import Action, Outcome
from biotracker.server.auth import Caller, audit
from biotracker.server.context import ServerContext
from biotracker.server.routes.common import RESTRICTED
from biotracker.server.taxii_collections import (
    STIX_MEDIA_TYPE,
    BadFilter,
    CollectionCache,
    Entry,
    Page,
    TaxiiCollection,
    find_collection,
    page_of,
    parse_query,
    readable_collections,
    taxii_time,
)

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
API_ROOT = "biotracker"
#: The most objects one page holds (a larger ``limit`` is lowered to it, as TAXII allows).
MAX_PAGE = 1000
_CHALLENGE = 'Bearer realm="biotracker", Basic realm="biotracker"'


class TaxiiError(Exception):
    """An error answered as a TAXII error message (section 3.6.1) with its HTTP status."""

    def __init__(self, status: int, title: str, description: str = "", headers: dict[str, str] | None = None):
        super().__init__(title)
        self.status = status
        self.title = title
        self.description = description
        self.headers = headers or {}


def _error_response(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaxiiError)
    body = {"title": exc.title, "http_status": str(exc.status)}
    if exc.description:
        body["description"] = exc.description
    return JSONResponse(body, status_code=exc.status, media_type=TAXII_MEDIA_TYPE, headers=exc.headers)


def _taxii(content: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(content, media_type=TAXII_MEDIA_TYPE, headers=headers)


def _check_accept(request: Request) -> None:
    """406 unless the client accepts TAXII 2.1 JSON (no Accept header, or ``*/*``, accepts anything)."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return
    for part in accept.split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        if media in ("*/*", "application/*"):
            return
        if media == "application/taxii+json":
            versions = [p.split("=", 1)[1].strip() for p in params if p.startswith("version=")]
            if not versions or "2.1" in versions:
                return
    raise TaxiiError(
        406, "Not Acceptable", f"this server answers {TAXII_MEDIA_TYPE}; send it in the Accept header"
    )


def _basic_caller(request: Request, credentials: str) -> Caller:
    """HTTP Basic with the API token as the password; the user name must be the token's user."""
    try:
        username, _, token = base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise TaxiiError(401, "Unauthorized", "Basic credentials: not base64 of user:token") from None
    if not token:
        raise TaxiiError(401, "Unauthorized", "Basic credentials: the password must be an API token")
    found = auth.token_caller(request, token)
    if found.principal.username != username:
        raise TaxiiError(401, "Unauthorized", "Basic credentials: the token belongs to another user")
    return found


async def taxii_caller(request: Request) -> Caller:
    """The REST API's caller (token or session), or HTTP Basic with a token; TAXII errors on failure."""
    _check_accept(request)
    kind, _, value = request.headers.get("authorization", "").partition(" ")
    try:
        if kind.lower() == "basic":
            return _basic_caller(request, value.strip())
        return await auth.caller(request)
    except HTTPException as exc:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = _CHALLENGE
        title = HTTPStatus(exc.status_code).phrase
        raise TaxiiError(exc.status_code, title, str(exc.detail), headers) from None
    except TaxiiError as exc:
        exc.headers.setdefault("WWW-Authenticate", _CHALLENGE)
        raise


TaxiiCallerDep = Annotated[Caller, Depends(taxii_caller)]
router = APIRouter(prefix="/taxii2", tags=["taxii"])


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


def _cache(request: Request) -> CollectionCache:
    return request.app.state.taxii_cache


@router.get("/", name="taxii_discovery")
def discovery(request: Request, c: TaxiiCallerDep) -> Response:
    """Server discovery (section 4.1): one API root."""
    root = str(request.url_for("taxii_api_root"))
    return _taxii(
        {
            "title": "Biotracker",
            "description": "Biological incidents, their reports, places and alerts as STIX 2.1, "
            "one collection per TLP 2.0 audience (docs/SHARING.md).",
            "default": root,
            "api_roots": [root],
        }
    )


@router.get(f"/{API_ROOT}/", name="taxii_api_root")
def api_root(request: Request, c: TaxiiCallerDep) -> Response:
    """API root information (section 4.2)."""
    return _taxii(
        {
            "title": "Biotracker incidents",
            "description": "Read-only collections of incidents by the TLP 2.0 marking their audience is cleared for.",
            "versions": [TAXII_MEDIA_TYPE],
            "max_content_length": _ctx(request).settings.server_max_body_bytes,
        }
    )


def _resource(collection: TaxiiCollection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "can_read": True,
        "can_write": False,
        "media_types": [STIX_MEDIA_TYPE],
    }


@router.get(f"/{API_ROOT}/collections/")
def collections(request: Request, c: TaxiiCallerDep) -> Response:
    """The collections the caller may read (section 5.1)."""
    found = readable_collections(c.principal, _ctx(request).rules)
    return _taxii({"collections": [_resource(col) for col in found]})


def _readable(request: Request, c: Caller, collection_id: str) -> TaxiiCollection:
    ctx = _ctx(request)
    found = find_collection(c.principal, ctx.rules, collection_id)
    if found is None:
        audit(
            ctx,
            request,
            Action.READ,
            Outcome.NOT_FOUND,
            principal=c.principal,
            detail=f"taxii collection {collection_id[:100]}: none the caller may read (answered 404)",
        )
        raise TaxiiError(404, "Not Found", "no such collection")
    return found


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/")
def collection(request: Request, c: TaxiiCallerDep, collection_id: str) -> Response:
    """One collection (section 5.2), or 404 when it does not exist or the caller may not read it."""
    return _taxii(_resource(_readable(request, c, collection_id)))


def _page(request: Request, c: Caller, collection: TaxiiCollection, object_id: str | None = None) -> Page:
    """The page the request's filters select (of one object's versions when ``object_id`` is given),
    with the restricted records in it audited."""
    ctx = _ctx(request)
    try:
        query = parse_query(request.query_params, max_page=MAX_PAGE)
    except BadFilter as exc:
        raise TaxiiError(400, "Bad Request", str(exc)) from None
    entries: list[Entry] = _cache(request).entries(ctx.engine, ctx.rules, c.principal, collection)
    if object_id is not None:
        entries = [e for e in entries if e.id == object_id]
        if not entries:
            raise TaxiiError(404, "Not Found", "no such object in this collection")
    page = page_of(entries, query)
    restricted = tuple(e.record_id for e in page.entries if e.record_id and e.marking in RESTRICTED)
    if restricted:
        audit(
            ctx,
            request,
            Action.READ,
            Outcome.OK,
            principal=c.principal,
            record_ids=restricted,
            detail=f"taxii {collection.title} {request.url.path.rsplit('/', 2)[-2]}",
        )
    return page


def _envelope(page: Page, key: str, items: list[Any]) -> dict[str, Any]:
    """An envelope (section 3.7); ``objects`` is left out when the page is empty."""
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if items:
        body[key] = items
    return body


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/")
def objects(request: Request, c: TaxiiCallerDep, collection_id: str) -> Response:
    """The collection's STIX objects (section 5.3), oldest ``date_added`` first."""
    page = _page(request, c, _readable(request, c, collection_id))
    return _taxii(_envelope(page, "objects", [e.obj for e in page.entries]), page.headers())


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/")
def one_object(request: Request, c: TaxiiCallerDep, collection_id: str, object_id: str) -> Response:
    """One object of the collection (section 5.5)."""
    page = _page(request, c, _readable(request, c, collection_id), object_id)
    return _taxii(_envelope(page, "objects", [e.obj for e in page.entries]), page.headers())


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/")
def object_versions(request: Request, c: TaxiiCallerDep, collection_id: str, object_id: str) -> Response:
    """The versions of one object (section 5.8): Biotracker serves the latest only."""
    page = _page(request, c, _readable(request, c, collection_id), object_id)
    return _taxii(_envelope(page, "versions", [e.version for e in page.entries]), page.headers())


@router.get(f"/{API_ROOT}/collections/{{collection_id}}/manifest/")
def manifest(request: Request, c: TaxiiCallerDep, collection_id: str) -> Response:
    """Manifest records of the collection's objects (section 5.6), same filters and order as objects."""
    page = _page(request, c, _readable(request, c, collection_id))
    records = [
        {
            "id": e.id,
            "date_added": taxii_time(e.date_added),
            "version": e.version,
            "media_type": STIX_MEDIA_TYPE,
        }
        for e in page.entries
    ]
    return _taxii(_envelope(page, "objects", records), page.headers())


def mount(app: FastAPI) -> None:
    """Add the TAXII routes, their error format and their collection cache to ``app``."""
    app.state.taxii_cache = CollectionCache()
    app.add_exception_handler(TaxiiError, _error_response)
    app.include_router(router)
