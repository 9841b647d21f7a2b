"""The one audience filter: TLP 2.0 clearance, the law-enforcement intake rule, and subscriber preferences."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from biotracker.errors import ConfigError
from biotracker.outputs.audience import (
    INTERNAL,
    AnalystNote,
    LAW_ENFORCEMENT_FLOOR,
    Audience,
    Item,
    deliverable,
    load_subscribers,
)
from biotracker.outputs.charts import regions_of
from biotracker.schema import Alert, AlertTier, Tlp

REPO = Path(__file__).resolve().parents[2]


def alert(key: str, tlp: Tlp, tier: AlertTier = AlertTier.MEDIUM, country: str = "NGA", disease: str = "cholera") -> Alert:
    return Alert(alert_id=key, period_start=dt.date(2024, 6, 10), headline=key, tier=tier, reasons=["r"], tlp=tlp,
                 country_iso3=country, disease=disease)


@pytest.mark.parametrize("clearance, expected", [
    (Tlp.CLEAR, ["c"]),
    (Tlp.GREEN, ["c", "g"]),
    (Tlp.AMBER, ["c", "g", "a"]),
    (Tlp.AMBER_STRICT, ["c", "g", "a", "s"]),
    (Tlp.RED, ["c", "g", "a", "s", "r"]),
])
def test_clearance_admits_exactly_the_markings_at_or_below_it(clearance, expected):
    items = [Item(alert(k, t)) for k, t in zip("cgasr", list(Tlp), strict=True)]
    delivery = deliverable(items, Audience("x", clearance, "partner"))
    assert [i.key for i in delivery.items] == expected
    assert delivery.marking == Tlp(max((t for t in Tlp if t.rank < len(expected)), key=lambda t: t.rank))
    assert delivery.withheld == 5 - len(expected)


def test_law_enforcement_intake_is_raised_to_the_floor_and_reaches_only_law_enforcement():
    intake = Item(alert("pi", Tlp.CLEAR), sources=frozenset({"police_intake"}), law_enforcement=True)
    assert intake.tlp == LAW_ENFORCEMENT_FLOOR == Tlp.AMBER_STRICT
    # Cleared for RED but not law enforcement: still withheld.
    assert deliverable([intake], Audience("health", Tlp.RED, "public_health")).items == ()
    delivered = deliverable([intake], Audience("police", Tlp.AMBER_STRICT, "law_enforcement"))
    assert [i.key for i in delivered.items] == ["pi"] and delivered.marking == Tlp.AMBER_STRICT
    assert deliverable([intake], Audience("police-green", Tlp.GREEN, "law_enforcement")).items == ()


def test_an_item_is_as_restricted_as_what_it_was_built_from():
    item = Item(alert("a", Tlp.CLEAR), inherited=Tlp.AMBER)
    assert item.tlp == Tlp.AMBER
    assert deliverable([item], Audience("g", Tlp.GREEN, "partner")).items == ()


def test_empty_delivery_is_marked_clear():
    assert deliverable([], INTERNAL).marking == Tlp.CLEAR


def test_preferences_select_by_tier_topic_and_region_names():
    items = [Item(alert("nga-high", Tlp.CLEAR, AlertTier.HIGH, "NGA", "cholera")),
             Item(alert("nga-low", Tlp.CLEAR, AlertTier.LOW, "NGA", "cholera")),
             Item(alert("fra-high", Tlp.CLEAR, AlertTier.HIGH, "FRA", "cholera")),
             Item(alert("nga-anthrax", Tlp.CLEAR, AlertTier.CRITICAL, "NGA", "anthrax"))]
    sub = Audience("africa", Tlp.CLEAR, "partner", topics=frozenset({"Cholera"}), regions=frozenset({"Western Africa"}),
                   min_tier=AlertTier.HIGH)
    assert [i.key for i in deliverable(items, sub, regions_of=regions_of()).items] == ["nga-high"]
    by_code = Audience("fr", Tlp.CLEAR, "partner", regions=frozenset({"FRA"}))
    assert [i.key for i in deliverable(items, by_code, regions_of=regions_of()).items] == ["fra-high"]
    # Preferences never widen what security allows, and security ignores preferences when asked to.
    assert len(deliverable(items, sub, apply_preferences=False).items) == 4


def test_example_subscribers_file_loads():
    book = load_subscribers(REPO / "config" / "subscribers.example.toml")
    names = [s.name for s in book.subscribers]
    assert "bio-crime-unit" in names and len(names) == 4
    police = book.get("bio-crime-unit")
    assert police.law_enforcement and police.clearance == Tlp.RED
    partner = book.get("partner-agency-africa")
    assert partner.clearance == Tlp.GREEN and partner.min_tier == AlertTier.HIGH and "Africa" in partner.regions


@pytest.mark.parametrize("body, message", [
    ('[[subscriber]]\nname = "x"\nclearance = "PURPLE"\n', "not a TLP 2.0 marking"),
    ('[[subscriber]]\nname = "x"\nkind = "press"\n', "kind 'press'"),
    ('[[subscriber]]\nname = "x"\ncolour = "red"\n', "unknown keys"),
    ('[[subscriber]]\nname = "x"\n[[subscriber]]\nname = "x"\n', "unique"),
    ('[[subscriber]]\nname = "x"\nmin_tier = "urgent"\n', "min_tier"),
])
def test_bad_subscriber_files_fail_with_a_clear_message(tmp_path, body, message):
    path = tmp_path / "subs.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_subscribers(path)


def test_a_note_travels_with_its_alert_only():
    a = alert("a1", Tlp.CLEAR, AlertTier.LOW)
    note = AnalystNote(note_id="n1", alert_id="a1", actor="x", at=dt.datetime(2024, 6, 12, tzinfo=dt.timezone.utc),
                       text="t", what="feedback: relevant")
    items = [Item(a), Item(note, inherited=Tlp.CLEAR)]
    everything = deliverable(items, Audience("amber", Tlp.AMBER, "partner"))
    assert [i.key for i in everything.items] == ["a1", "n1"] and everything.marking == Tlp.AMBER
    high_only = deliverable(items, Audience("amber-high", Tlp.AMBER, "partner", min_tier=AlertTier.HIGH))
    assert high_only.items == () and high_only.marking == Tlp.CLEAR
