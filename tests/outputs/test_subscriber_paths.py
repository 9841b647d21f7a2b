"""Subscriber output paths: a collision-free, traversal-free key per subscriber, whatever its name.

Reproduces issue 12 item 4 (second half): "public clear" and "public/clear" shared one file name, so
the RED subscriber's digest and exports landed in the CLEAR subscriber's files, and a subscriber
named ``..`` overwrote the analysts' internal exports.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from biotracker.errors import ConfigError
from biotracker.outputs.audience import Audience, SubscriberBook, load_subscribers, subscriber_key
from biotracker.outputs.publish import publish_day
from biotracker.schema import Tlp
from tests.outputs.sample_store import DAY, KINDS, LE_MARKER

KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,52}")


@hsettings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_every_name_gives_a_plain_bounded_key(name: str) -> None:
    key = subscriber_key(name)
    assert KEY.fullmatch(key), key
    assert key.endswith(hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12])


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_different_names_never_share_a_key(a: str, b: str) -> None:
    if a != b:
        assert subscriber_key(a) != subscriber_key(b)


HOSTILE = ["..", "/", "", ".", "../..", "public/clear", "public clear", "public\\clear", "x" * 5000,
           "pubIic clear", "рublic clear",  # capital I for l; Cyrillic р for p
           "ｐｕｂｌｉｃ ｃｌｅａｒ", "internal", "exports-2024-06-17", "digest-2024-06-17", "cap", "mail/sent"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_hostile_names_write_only_their_own_files_and_never_touch_the_internal_outputs(store, tmp_path):
    settings, engine = store
    # The internal outputs alone, as the analysts get them.
    publish_day(engine, settings, DAY, subscribers=SubscriberBook(()), source_kinds=KINDS)
    internal = _tree(settings.out_dir)
    assert any(LE_MARKER in v.decode("utf-8", "replace") for v in internal.values())

    public = [Audience(name, Tlp.CLEAR, "public") for name in HOSTILE]
    police = Audience("police", Tlp.RED, "law_enforcement")
    result = publish_day(engine, settings, DAY, subscribers=SubscriberBook((police, *public)),
                         source_kinds=KINDS)

    after = _tree(settings.out_dir)
    assert {k: after[k] for k in internal} == internal, "a subscriber overwrote an internal output"
    stray = [p for p in tmp_path.rglob("*")
             if p.is_file() and settings.out_dir not in p.parents and not p.name.startswith("biotracker.db")]
    assert stray == [], "a subscriber wrote outside the output folder"
    # One digest pair and one export folder per subscriber: nobody shares a file.
    digests = {f.html for f in result.subscriber_digests.values()}
    folders = {Path(e.paths["json"]).parent for e in result.subscriber_exports.values()}
    assert len(digests) == len(folders) == len(HOSTILE) + 1
    for folder in folders:
        assert folder.parent == settings.out_dir / "exports-2024-06-17" / "subscribers"
    for digest in digests:
        assert digest.parent == settings.out_dir / "digests"
    # No CLEAR subscriber holds a word of the law-enforcement record.
    for audience in public:
        files = [result.subscriber_digests[audience.name].html, result.subscriber_digests[audience.name].text,
                 *Path(result.subscriber_exports[audience.name].paths["json"]).parent.rglob("*")]
        for f in files:
            if f.is_file():
                assert LE_MARKER not in f.read_text(encoding="utf-8"), (audience.name, f)


def test_names_that_fold_to_one_file_name_keep_their_own_content(store):
    settings, engine = store
    clear = Audience("public clear", Tlp.CLEAR, "public")
    red = Audience("public/clear", Tlp.RED, "law_enforcement")
    for order in ((clear, red), (red, clear)):
        result = publish_day(engine, settings, DAY, subscribers=SubscriberBook(order), source_kinds=KINDS)
        assert LE_MARKER not in result.subscriber_digests["public clear"].html.read_text()
        assert LE_MARKER in result.subscriber_digests["public/clear"].html.read_text()
        assert LE_MARKER not in Path(result.subscriber_exports["public clear"].paths["json"]).read_text()


@pytest.mark.parametrize("name, message", [
    ("", "non-empty name"),
    ("   ", "non-empty name"),
    (" desk", "spaces"),
    ("x" * 101, "at most 100"),
    ("desk\u200b", "invisible"),
    ("desk\u202e", "invisible"),
    ("desk\\nBcc", None),  # a backslash and letters: a legal, if odd, name
])
def test_subscriber_names_are_checked_when_the_file_is_loaded(tmp_path, name, message):
    path = tmp_path / "subs.toml"
    escaped = name.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    path.write_text(f'[[subscriber]]\nname = "{escaped}"\n', encoding="utf-8")
    if message is None:
        assert load_subscribers(path).subscribers[0].name == name
    else:
        with pytest.raises(ConfigError, match=message):
            load_subscribers(path)


@pytest.mark.parametrize("a, b", [("Desk", "desk"), ("desk", "ｄｅｓｋ"), ("ﬁeld", "field")])
def test_names_an_operator_reads_as_one_are_refused(tmp_path, a, b):
    path = tmp_path / "subs.toml"
    path.write_text(f'[[subscriber]]\nname = "{a}"\n[[subscriber]]\nname = "{b}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unique"):
        load_subscribers(path)


@pytest.mark.parametrize("email", ["a@b.example\nBcc: x@evil.example", "a@b.example, c@d.example", "nobody", 5])
def test_an_email_address_is_one_plain_address(tmp_path, email):
    path = tmp_path / "subs.toml"
    value = f'"{email.encode("unicode_escape").decode()}"' if isinstance(email, str) else str(email)
    path.write_text(f'[[subscriber]]\nname = "x"\nemail = {value}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="email"):
        load_subscribers(path)
