"""Re-record a connector's fixture from the live service (for users who have internet).

Fetches exactly what ``fetch_to_raw`` would (same start URLs, paging, POST bodies, HTTP layer) and
writes the bodies plus a cassette whose provenance says when and from where they were recorded.
The old recording is replaced; review the diff and refresh the snapshot before committing.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from pathlib import Path
from typing import Any

import yaml

from biotracker.errors import ConfigError
from biotracker.ingest.http import HttpClient
from biotracker.ingest.registry import get_connector
from biotracker.schema import Window

_EXTENSIONS = {
    "application/json": ".json",
    "text/csv": ".csv",
    "application/rss+xml": ".xml",
    "application/atom+xml": ".xml",
    "application/xml": ".xml",
    "text/xml": ".xml",
}


def _extension(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    return _EXTENSIONS.get(kind) or mimetypes.guess_extension(kind) or ".bin"


def record_fixture(
    name: str, client: HttpClient, folder: Path, window: Window, recorded_at: dt.datetime
) -> Path:
    """Fetch ``name`` live for ``window`` into ``folder``; return the cassette path."""
    connector = get_connector(name)
    if connector.fetch_kind != "http":
        raise ConfigError(
            f"{name} reads a drop folder: record it by copying sample files (with permission) into "
            f"{folder}/drop and describing them in cassette.yaml"
        )
    folder.mkdir(parents=True, exist_ok=True)
    interactions: list[dict[str, Any]] = []
    for url in connector.start_urls(window):
        next_url: str | None = url
        while next_url and len(interactions) < connector.max_pages:
            response = client.get(
                next_url, json_body=connector.request_json(next_url, window), allowed_hosts=connector.hosts()
            )
            body_file = f"page{len(interactions) + 1}{_extension(response.content_type)}"
            (folder / body_file).write_bytes(response.body)
            interactions.append(
                {
                    "url": next_url,
                    "status": response.status,
                    "content_type": response.content_type,
                    "body_file": body_file,
                }
            )
            next_url = connector.next_url(response.body, next_url, window)
    cassette = {
        "provenance": f"Recorded from the live service by `biotracker connectors record {name}` on "
        f"{recorded_at:%Y-%m-%d %H:%M} UTC for the window {window}; content under the terms in "
        f"the connector's `terms` ({connector.terms}).",
        "recording": "real",
        "interactions": interactions,
    }
    path = folder / "cassette.yaml"
    path.write_text(yaml.safe_dump(cassette, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
