"""Who may receive what: subscriber profiles and the one audience filter every output goes through.

TLP 2.0 decides most of it: an audience cleared for ``AMBER`` may receive CLEAR, GREEN and AMBER
records, nothing else. One rule sits on top, because the marking a source puts on a record can be
wrong: a record that came in through a law-enforcement intake channel (a connector of kind
``law_enforcement``) is treated as at least ``TLP:AMBER+STRICT`` and goes only to law-enforcement
audiences, whatever its declared marking. Every audience is the community organisation's (the
deployment's), so a member organisation's contribution reaches one only when the TLP 2.0 policy lets
the community see it (``Item.foreign``), and nothing built from one that it may not see. Every output (digest, email, CAP, STIX, JSON) calls
:func:`deliverable` and renders only what it returns; none re-implements the filter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from biotracker.errors import ConfigError
from biotracker.incidents.scopes import LAW_ENFORCEMENT_FLOOR, Scope, scope_for
from biotracker.schema import Alert, AlertTier, Incident, Report, SourceKind, Tlp, most_restrictive

#: Analysts' notes are internal working text: shared no wider than TLP:AMBER (and never wider than their alert).
ANALYST_NOTE_TLP = Tlp.AMBER


@dataclass(frozen=True)
class AnalystNote:
    """What an analyst wrote about an alert: a status change with its note, or relevance feedback."""

    note_id: str
    alert_id: str
    actor: str
    at: dt.datetime
    text: str
    what: str  # "status new -> triaged" or "feedback: relevant"
    disease: str | None = None
    country_iso3: str | None = None
    tlp: Tlp = ANALYST_NOTE_TLP


AUDIENCE_KINDS = ("law_enforcement", "public_health", "partner", "public")

#: Longest subscriber name accepted in a subscribers file (names are labels, not documents).
MAX_NAME_LENGTH = 100
_SLUG_LENGTH = 40
_HASH_LENGTH = 12


def subscriber_key(name: str) -> str:
    """The file-system key of a subscriber: a readable slug plus a hash of the exact name.

    Every path of a subscriber's outputs (digest files, export folder, mail messages) is built from
    this key and nothing else, so two names that fold to the same slug ("public clear",
    "public/clear") never share a file, and no name (``..``, ``/``, empty, very long, look-alike
    letters) can reach outside its own place: the key holds only ``[a-z0-9-]``, never starts with a
    dot and is at most 53 characters long.
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:_SLUG_LENGTH].strip("-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
    return f"{slug or 'subscriber'}-{digest}"


def check_subscriber_name(name: str, where: str) -> str:
    """Refuse names an operator could not tell apart or type: empty, padded, control or invisible
    characters, longer than :data:`MAX_NAME_LENGTH`. (Paths are safe whatever the name; this keeps
    the subscribers file readable.)"""
    if not name.strip():
        raise ConfigError(f"{where}: every [[subscriber]] needs a non-empty name")
    if name != name.strip():
        raise ConfigError(f"{where}: subscriber name {name!r} starts or ends with spaces; remove them")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"{where}: subscriber name is {len(name)} characters long; use at most {MAX_NAME_LENGTH}"
        )
    hidden = sorted({f"U+{ord(c):04X}" for c in name if unicodedata.category(c).startswith("C")})
    if hidden:
        raise ConfigError(
            f"{where}: subscriber name {name!r} holds control or invisible characters {hidden}; "
            "write it in plain visible characters"
        )
    return name


@dataclass(frozen=True)
class Item:
    """One record on its way to an output, with what the filter needs to know about its origin.

    ``sources`` are the connector names the record was built from; ``law_enforcement`` is True when
    any of them is a law-enforcement intake channel.
    """

    record: Alert | Incident | Report | AnalystNote
    sources: frozenset[str] = frozenset()
    law_enforcement: bool = False
    #: Markings of the records this one was built from (an incident's reports, an alert's incidents).
    inherited: Tlp = Tlp.CLEAR
    #: Built from a record the community organisation may not see (another organisation's TLP:AMBER
    #: contribution not shared with it, its AMBER+STRICT or any RED contribution): every output is
    #: the community's, so no audience receives it (``incidents.scopes.community_may_use``).
    foreign: bool = False

    @property
    def kind(self) -> str:
        return type(self.record).__name__.lower()

    @property
    def tlp(self) -> Tlp:
        """The marking outputs must honour: the declared one, raised to what it was built from and,
        for law-enforcement intake, to :data:`LAW_ENFORCEMENT_FLOOR`."""
        floor = LAW_ENFORCEMENT_FLOOR if self.law_enforcement else Tlp.CLEAR
        return most_restrictive([self.record.tlp, self.inherited, floor])

    # Typed views of ``record`` for code that has already chosen items by kind (``of_kind``).
    @property
    def alert(self) -> Alert:
        if not isinstance(self.record, Alert):
            raise TypeError(f"{self.kind} {self.key} is not an alert")
        return self.record

    @property
    def incident(self) -> Incident:
        if not isinstance(self.record, Incident):
            raise TypeError(f"{self.kind} {self.key} is not an incident")
        return self.record

    @property
    def report(self) -> Report:
        if not isinstance(self.record, Report):
            raise TypeError(f"{self.kind} {self.key} is not a report")
        return self.record

    @property
    def note(self) -> AnalystNote:
        if not isinstance(self.record, AnalystNote):
            raise TypeError(f"{self.kind} {self.key} is not an analyst note")
        return self.record

    @property
    def key(self) -> str:
        r = self.record
        if isinstance(r, Alert):
            return r.alert_id
        if isinstance(r, Incident):
            return r.incident_id
        if isinstance(r, AnalystNote):
            return r.note_id
        return r.report_id


@dataclass(frozen=True)
class Audience:
    """A subscriber profile: who they are, what they are cleared for, what they want to read."""

    name: str
    clearance: Tlp
    kind: str = "public_health"
    email: str | None = None
    #: Diseases (case-insensitive); empty = all.
    topics: frozenset[str] = frozenset()
    #: ISO 3166 alpha-3 codes or Natural Earth continent / UN region / subregion names; empty = all.
    regions: frozenset[str] = frozenset()
    min_tier: AlertTier = AlertTier.LOW

    def __post_init__(self) -> None:
        if self.kind not in AUDIENCE_KINDS:
            raise ConfigError(f"subscriber {self.name!r}: kind {self.kind!r} is not one of {AUDIENCE_KINDS}")

    @property
    def law_enforcement(self) -> bool:
        return self.kind == "law_enforcement"

    @property
    def path_key(self) -> str:
        """Where this audience's files live: see :func:`subscriber_key`."""
        return subscriber_key(self.name)

    @property
    def scope(self) -> Scope:
        """The visibility scope whose derived data this audience reads (incidents/scopes.py)."""
        return scope_for(self.clearance, self.law_enforcement)

    def may_receive(self, item: Item) -> bool:
        """The security rule alone (TLP, originator and law-enforcement intake), without topic preferences."""
        if item.foreign:
            return False
        if item.law_enforcement and not self.law_enforcement:
            return False
        return self.clearance.allows(item.tlp)

    def wants(self, item: Item, regions_of: Mapping[str, frozenset[str]] | None = None) -> bool:
        """The subscriber's preferences: topic, region and (for alerts) minimum tier."""
        record = item.record
        if isinstance(record, Alert) and record.tier.rank > self.min_tier.rank:
            return False
        disease = getattr(record, "disease", None)
        if self.topics and (disease or "").casefold() not in {t.casefold() for t in self.topics}:
            return False
        if self.regions:
            country = getattr(record, "country_iso3", None)
            names = {country} if country else set()
            names |= (regions_of or {}).get(country or "", frozenset())
            if not {n.casefold() for n in names} & {r.casefold() for r in self.regions}:
                return False
        return True


#: The analysts' own view: everything, at the highest clearance (what ``build_digest`` shows by default).
INTERNAL = Audience(name="internal", clearance=Tlp.RED, kind="law_enforcement")

T = TypeVar("T", bound=Item)


@dataclass(frozen=True)
class Delivery(Generic[T]):
    """What may go to one audience, and the marking the output carrying it must show."""

    audience: Audience
    items: tuple[T, ...]
    marking: Tlp
    withheld: int = 0

    def of_kind(self, kind: str) -> list[T]:
        return [i for i in self.items if i.kind == kind]

    def records(self, kind: str) -> list:
        return [i.record for i in self.items if i.kind == kind]


def deliverable(
    items: Iterable[T],
    audience: Audience,
    *,
    regions_of: Mapping[str, frozenset[str]] | None = None,
    apply_preferences: bool = True,
) -> Delivery[T]:
    """Keep only what ``audience`` may (and wants to) receive; mark the result with its most restrictive TLP.

    The marking never exceeds the audience's clearance, because every kept item is within it.
    """
    kept: list[T] = []
    withheld = 0
    for item in items:
        if not audience.may_receive(item):
            withheld += 1
        elif not apply_preferences or audience.wants(item, regions_of):
            kept.append(item)
    # A note travels with its alert: none about an alert this audience does not get.
    alert_ids = {i.key for i in kept if isinstance(i.record, Alert)}
    kept = [i for i in kept if not isinstance(i.record, AnalystNote) or i.record.alert_id in alert_ids]
    marking = most_restrictive((i.tlp for i in kept), default=Tlp.CLEAR)
    return Delivery(audience=audience, items=tuple(kept), marking=marking, withheld=withheld)


def is_law_enforcement_source(source: str, kinds: Mapping[str, SourceKind]) -> bool:
    return kinds.get(source) == SourceKind.LAW_ENFORCEMENT


def registered_source_kinds() -> dict[str, SourceKind]:
    """Connector name -> kind, from the connector registry (the authority on intake channels)."""
    from biotracker.ingest.registry import connector_classes

    return {name: cls.kind for name, cls in connector_classes().items()}


# --- subscriber profiles -------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberBook:
    subscribers: tuple[Audience, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Audience:
        for sub in self.subscribers:
            if sub.name == name:
                return sub
        raise ConfigError(f"no subscriber named {name!r}; known: {[s.name for s in self.subscribers]}")


_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def parse_subscriber(entry: Mapping[str, object], where: str) -> Audience:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: a [[subscriber]] must be a table of keys, got {entry!r}")
    known = {"name", "email", "kind", "clearance", "topics", "regions", "min_tier"}
    unknown = set(entry) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known keys are {sorted(known)}")
    raw_name = entry.get("name")
    if not isinstance(raw_name, str):
        raise ConfigError(f"{where}: every [[subscriber]] needs a name (a string)")
    name = check_subscriber_name(raw_name, where)
    try:
        clearance = Tlp.parse(str(entry.get("clearance", "CLEAR")))
        min_tier = AlertTier(str(entry.get("min_tier", "low")).lower())
    except ValueError as exc:
        raise ConfigError(
            f"{where} ({name}): {exc}; min_tier is one of {[t.value for t in AlertTier]}"
        ) from exc
    lists: dict[str, list[object]] = {}
    for key in ("topics", "regions"):
        value = entry.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{where} ({name}): {key} must be a list of strings")
        lists[key] = value
    email = entry.get("email")
    if email is not None and not (isinstance(email, str) and _EMAIL.fullmatch(email)):
        raise ConfigError(
            f"{where} ({name}): email {email!r} is not one plain address like desk@agency.example"
        )
    return Audience(
        name=name,
        clearance=clearance,
        kind=str(entry.get("kind", "public_health")),
        email=email or None,
        topics=frozenset(str(t) for t in lists["topics"]),
        regions=frozenset(str(r) for r in lists["regions"]),
        min_tier=min_tier,
    )


def load_subscribers(path: Path) -> SubscriberBook:
    """Read ``[[subscriber]]`` tables from a TOML file (see ``config/subscribers.example.toml``)."""
    if not path.is_file():
        raise ConfigError(
            f"subscribers file {path} does not exist; copy config/subscribers.example.toml there"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML (UTF-8): {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read the subscribers file {path}: {exc.strerror or exc}") from exc
    entries = data.get("subscriber", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: write each subscriber as a [[subscriber]] table")
    subs = tuple(parse_subscriber(e, f"{path} [[subscriber]] #{i + 1}") for i, e in enumerate(entries))
    _check_distinct(subs, path)
    return SubscriberBook(subs)


def _check_distinct(subs: tuple[Audience, ...], path: Path) -> None:
    """Names must be unique even after Unicode compatibility folding and case folding, so that two
    profiles an operator reads as one ("Desk" and "ｄｅｓｋ") cannot both exist; their keys (which
    name the files) are then unique too."""
    seen: dict[str, str] = {}
    for sub in subs:
        for folded in (unicodedata.normalize("NFKC", sub.name).casefold(), sub.path_key):
            if folded in seen:
                raise ConfigError(
                    f"{path}: subscriber names must be unique, but {seen[folded]!r} and {sub.name!r} are "
                    "(or read as) the same name; give each subscriber a distinct name"
                )
            seen[folded] = sub.name
