"""Server-side request forgery: a connector reaches only its own hosts, redirects are checked hop by
hop, and production never connects to private, loopback or link-local addresses. Nothing fetched
from a refused address can be archived or shown, because nothing is ever fetched from it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.db.engine import open_store
from biotracker.db.tables import quarantine, raw_payloads
from biotracker.errors import FatalFetchError, RefusedAddressError
from biotracker.ingest.health import source_statuses
from biotracker.ingest.http import GuardedTransport, HttpClient, is_public
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import Interaction, ReplayServer
from biotracker.ingest.run import fetch_to_raw
from biotracker.normalise.run import normalise_pending
from biotracker.raw.archive import read_payload
from biotracker.schema import UTC, Window
from biotracker.testing.transport import replay_client
from tests.ingest.local_servers import SECRET, secret_server

WINDOW = Window(dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC))
AT = dt.datetime(2026, 1, 1, tzinfo=UTC)
WHO = get_connector("who_don")
PAGE = json.loads((BUNDLED_RECORDINGS / "who_don" / "page1.json").read_bytes())


def _store(tmp_path: Path):
    settings = Settings(home=tmp_path, http_retries=0)
    return settings, open_store(settings)


def _everything_stored(settings: Settings, engine) -> bytes:
    with engine.connect() as conn:
        shas = [r.sha256 for r in conn.execute(select(raw_payloads.c.sha256))]
        excerpts = [r.excerpt for r in conn.execute(select(quarantine.c.excerpt))]
    return b"".join(read_payload(settings.raw_dir, s) for s in shas) + "".join(excerpts).encode()


def test_every_connector_declares_the_hosts_of_its_start_addresses() -> None:
    from urllib.parse import urlsplit

    from biotracker.ingest.registry import connector_classes

    for name, cls in connector_classes().items():
        connector = cls()
        if connector.fetch_kind != "http":
            continue
        assert {urlsplit(u).hostname for u in connector.start_urls(WINDOW)} <= connector.hosts(), name


@pytest.mark.parametrize("target", ["{secret}/etc/shadow", "https://attacker.example.net/page2"])
def test_a_paging_link_to_another_host_is_refused_and_quarantined(tmp_path: Path, target: str) -> None:
    settings, engine = _store(tmp_path)
    with secret_server() as (secret, asked):
        link = target.format(secret=secret)
        page = PAGE | {"@odata.nextLink": link}
        with ReplayServer([Interaction(url=WHO.url, body=json.dumps(page).encode(), content_type="application/json")]) as srv:
            with replay_client(settings, srv) as client:
                summary = fetch_to_raw("who_don", WINDOW, settings, engine, client, lambda: AT)
    assert asked == [] and summary.pages == 1
    with engine.connect() as conn:
        (row,) = conn.execute(select(quarantine)).mappings()
    assert row["stage"] == "fetch" and row["what"] == f"link in payload {link}"
    assert "is not one this connector may fetch from" in row["reason"] and row["raw_sha256"] == summary.payloads[0]
    assert SECRET not in _everything_stored(settings, engine)
    normalise_pending(settings, engine)  # the page that carried the link still lands
    assert {s.source: s.state for s in source_statuses(engine, AT)}["who_don"] == "ok"


def test_a_redirect_to_another_host_is_refused_before_it_is_followed(tmp_path: Path) -> None:
    settings, engine = _store(tmp_path)
    with secret_server() as (secret, asked):
        redirect = Interaction(url=WHO.url, status=302, headers={"Location": f"{secret}/latest/meta-data/"})
        with ReplayServer([redirect]) as srv, replay_client(settings, srv) as client:
            with pytest.raises(FatalFetchError, match="is not one this connector may fetch from"):
                fetch_to_raw("who_don", WINDOW, settings, engine, client, lambda: AT)
    assert asked == []
    assert {s.source: s.state for s in source_statuses(engine, AT)}["who_don"] == "failing"
    with engine.connect() as conn:
        assert [r.stage for r in conn.execute(select(quarantine.c.stage))] == ["fetch"]
    assert SECRET not in _everything_stored(settings, engine)


def test_a_redirect_within_the_connectors_host_is_followed(tmp_path: Path) -> None:
    settings, engine = _store(tmp_path)
    moved = "https://www.who.int/api/news/moved"
    interactions = [Interaction(url=WHO.url, status=301, headers={"Location": "/api/news/moved"}),
                    Interaction(url=moved, body=json.dumps(PAGE).encode(), content_type="application/json")]
    with ReplayServer(interactions) as srv, replay_client(settings, srv) as client:
        response = client.get(WHO.url, allowed_hosts=WHO.hosts())
    assert response.url.endswith("/https/www.who.int/api/news/moved") and json.loads(response.body) == PAGE


@pytest.mark.parametrize("address", ["http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://[::1]:{port}/",
                                     "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                                     "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/"])
def test_production_never_connects_to_private_loopback_or_link_local_addresses(tmp_path: Path, address: str) -> None:
    with secret_server() as (secret, asked):
        url = address.format(port=secret.rsplit(":", 1)[1])
        with HttpClient(Settings(home=tmp_path, http_retries=0)) as client:
            with pytest.raises(RefusedAddressError, match="private, loopback or link-local"):
                client.get(url)
    assert asked == []


def test_a_public_name_that_resolves_to_a_private_address_is_refused(tmp_path: Path) -> None:
    for answer in (["10.1.2.3"], ["93.184.216.34", "127.0.0.1"]):
        transport = GuardedTransport(resolve=lambda host, port, answer=answer: answer)
        with HttpClient(Settings(home=tmp_path, http_retries=0), transport=transport) as client:
            with pytest.raises(RefusedAddressError, match="resolves to"):
                client.get("https://feeds.example.org/rss.xml")


@pytest.mark.parametrize(("address", "public"), [("93.184.216.34", True), ("2606:2800:220:1::", True),
                                                 ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.0.1", False),
                                                 ("192.168.1.1", False), ("169.254.169.254", False),
                                                 ("100.64.0.1", False), ("::1", False), ("fe80::1%eth0", False),
                                                 ("fd00::1", False), ("::ffff:10.0.0.1", False), ("224.0.0.1", False)])
def test_only_global_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_other_schemes_are_never_fetched(tmp_path: Path) -> None:
    with HttpClient(Settings(home=tmp_path)) as client:
        for url in ("file:///etc/passwd", "gopher://x/", "ftp://x/y"):
            with pytest.raises(RefusedAddressError, match="only http"):
                client.get(url)


def test_a_declarative_feed_may_declare_extra_hosts() -> None:
    from biotracker.ingest.declarative import FeedEntry, build_class

    entry = FeedEntry(name="cdn_feed", format="json", title="t", kind="osint", url="https://api.example.org/x",
                      terms="t", items="items", primary_key=["id"], extra_hosts=["CDN.example.org"])
    assert build_class(entry)().hosts() == {"api.example.org", "cdn.example.org"}


@pytest.mark.parametrize("link", ["http://[::1", "https://www.who.int:99999/x", "https://www.who.int/\x00x",
                                  "javascript:alert(1)", "//attacker.example.net/x"])
def test_malformed_or_scheme_relative_paging_links_are_refused_not_crashing(tmp_path: Path, link: str) -> None:
    settings, engine = _store(tmp_path)
    page = PAGE | {"@odata.nextLink": link}
    with ReplayServer([Interaction(url=WHO.url, body=json.dumps(page).encode(), content_type="application/json")]) as srv:
        with replay_client(settings, srv) as client:
            summary = fetch_to_raw("who_don", WINDOW, settings, engine, client, lambda: AT)
    assert summary.pages == 1
    with engine.connect() as conn:
        (reason,) = conn.execute(select(quarantine.c.reason)).scalars()
    assert reason.startswith("refused")


def test_relative_paging_links_are_resolved_and_loops_stop(tmp_path: Path) -> None:
    settings, engine = _store(tmp_path)
    second = "https://www.who.int/api/news/page2"
    pages = [Interaction(url=WHO.url, body=json.dumps(PAGE | {"@odata.nextLink": "/api/news/page2"}).encode(),
                         content_type="application/json"),
             Interaction(url=second, body=json.dumps(PAGE | {"@odata.nextLink": WHO.url}).encode(),
                         content_type="application/json")]
    with ReplayServer(pages) as srv, replay_client(settings, srv) as client:
        summary = fetch_to_raw("who_don", WINDOW, settings, engine, client, lambda: AT)
        asked = list(srv.requests)
    assert summary.pages == 2 and len(asked) == 2  # page 2 links back to page 1: paging stops


def test_a_huge_content_type_header_cannot_fail_the_archive(database_url: str, tmp_path: Path) -> None:
    from biotracker.config import load_settings

    settings = load_settings({}, home=str(tmp_path), database_url=database_url, http_retries="0")
    engine = open_store(settings)
    with ReplayServer([Interaction(url=WHO.url, body=json.dumps(PAGE | {"@odata.nextLink": None}).encode(),
                                   content_type="application/json; x=" + "a" * 5000)]) as srv:
        with replay_client(settings, srv) as client:
            assert fetch_to_raw("who_don", WINDOW, settings, engine, client, lambda: AT).pages == 1
    with engine.connect() as conn:
        assert len(conn.execute(select(raw_payloads.c.content_type)).scalar_one()) == 200
