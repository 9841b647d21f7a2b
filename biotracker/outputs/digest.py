"""Stage 6: the daily digest (``build_digest``): ranked, explained, sourced alerts as HTML and text.

Everything that reaches HTML goes through Jinja2 autoescaping; SVG pictures are built from numbers
and escaped names (``charts``); only http(s) source links become links. The digest lists only what
:func:`~biotracker.outputs.audience.deliverable` lets through for its audience and carries the most
restrictive TLP marking of what it lists.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine

from biotracker.config import Settings
from biotracker.ingest.health import SILENT_AFTER_CADENCES
from biotracker.outputs.audience import INTERNAL, Audience, Delivery, Item, deliverable
from biotracker.outputs.charts import regions_of, sparkline_svg, unmapped, world_map_svg
from biotracker.outputs.records import OutputData, SeriesPoint, load_output_data, topic_of
from biotracker.schema import Alert, AlertTier, Report, SourceKind, Tlp, Window, as_utc
from biotracker.scoring.risk.flag_words import agent_flag_words
from biotracker.storage import StoragePath

log = logging.getLogger(__name__)

_env = Environment(
    loader=PackageLoader("biotracker.outputs", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

MIN_SPARK_WEEKS = 8
_SAFE_LINK = re.compile(r"^https?://", re.IGNORECASE)
_BLOCKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class DigestFiles:
    day: dt.date
    html: StoragePath
    text: StoragePath
    alerts: int
    tlp: Tlp
    audience: str = INTERNAL.name

    def summary(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "html": str(self.html),
            "text": str(self.text),
            "alerts": self.alerts,
            "tlp": self.tlp.value,
            "audience": self.audience,
        }


@dataclass(frozen=True)
class RenderedDigest:
    """A digest in memory: what email sends and files store, with the marking it must carry."""

    day: dt.date
    html: str
    text: str
    delivery: Delivery[Item]

    @property
    def tlp(self) -> Tlp:
        return self.delivery.marking

    @property
    def alerts(self) -> list[Alert]:
        return self.delivery.records("alert")

    @property
    def subject(self) -> str:
        n = len(self.alerts)
        return f"[{self.tlp}] Biotracker digest {self.day.isoformat()}: {n} alert{'s' if n != 1 else ''}"


def rank_key(alert: Alert) -> tuple[int, float, int, int, str]:
    """Most urgent tier first, then law-enforcement relevance (the relevance model's score, or the
    rule score from agent flags, unusualness, cues and indicators), then more reasons, then recency."""
    relevance = float((alert.features or {}).get("relevance") or 0.0)
    last = alert.last_period or alert.period_start
    return (alert.tier.rank, -relevance, -len(alert.reasons), -last.toordinal(), alert.alert_id)


def digest_window(day: dt.date, lookback_days: int) -> Window:
    return Window(as_utc(day - dt.timedelta(days=lookback_days)), as_utc(day))


def audience_series(data: OutputData, alert: Alert, audience: Audience) -> tuple[list[SeriesPoint], bool]:
    """The alert's weekly series up to its week, as this audience may see it.

    The detector's series counts every report. When the audience may not see some report of the
    alert's disease and country, the counts are rebuilt from the reports it may see, without the
    detector's bound (computed from all of them), so a sparkline never reveals withheld records.
    Returns the points and whether they are the detector's series.
    """
    weeks = [(w, i) for w, i in data.report_weeks.get(topic_of(alert), []) if w <= alert.period_start]
    hidden = any(not audience.may_receive(i) for _, i in weeks)
    scored = data.scored_series(alert)
    if scored and not hidden:
        return scored, True
    if not weeks:
        return [], False
    visible = Counter(w for w, i in weeks if audience.may_receive(i))
    # At least MIN_SPARK_WEEKS weeks, so a first-ever report shows as a rise from zero, not a lone dot.
    week = min([*visible, alert.period_start - dt.timedelta(days=7 * (MIN_SPARK_WEEKS - 1))])
    points = []
    while week <= alert.period_start:
        points.append(SeriesPoint(week, visible.get(week, 0)))
        week += dt.timedelta(days=7)
    return points, False


def text_sparkline(points: list[SeriesPoint]) -> str:
    values = [p.observed for p in points[-26:]]
    top = max(values, default=0) or 1
    return "".join(_BLOCKS[min(len(_BLOCKS) - 1, round(v / top * (len(_BLOCKS) - 1)))] for v in values)


def agent_flags(disease: str | None) -> list[str]:
    """Regulatory lists the alert's agent is on (risk lens), in the words every output uses; empty when unknown."""
    if not disease:
        return []
    from biotracker.scoring.risk.agents import load_agents

    agent = load_agents().get(disease)
    if agent is None:
        return []
    return [f"{agent.name}: {words}" for words in agent_flag_words(agent)]


def assessment_lines(assessment: dict | None) -> list[str]:
    """The risk lens's findings on the alert's incident, in words: unusual features, indicators, cues."""
    if not assessment:
        return []
    lines = [
        f"unusual: {u.get('flag', '').replace('_', ' ')} — {u.get('evidence', '')}"
        for u in assessment.get("unusual") or []
    ]
    lines += [
        f"indicator {i.get('number')}: {i.get('indicator', '')} — {i.get('evidence', '')}"
        for i in assessment.get("indicators") or []
    ]
    lines += [
        f"cue ({c.get('category', '')}): “{c.get('text', '')}” in “{c.get('sentence', '')}”"
        for c in assessment.get("cues") or []
    ]
    return lines


def extraction_lines(reports: list[Report], limit: int = 3) -> list[str]:
    """What the extractor read in the alert's reports, each value with where it was found."""
    lines = []
    for report in reports[:limit]:
        found = (report.evidence or {}).get("extraction") or {}
        parts = []
        for d in found.get("diseases", [])[:2]:
            ev = d.get("evidence") or {}
            parts.append(
                f"disease {d.get('name')} ({d.get('id') or 'no id'}; agent {d.get('agent_id') or 'n/a'}) "
                f"from {ev.get('field')} [{', '.join(str(x) for x in ev.get('span', []))}] “{ev.get('text')}”"
            )
        seen: set[tuple] = set()
        for p in found.get("places", []):
            ev = p.get("evidence") or {}
            where = (p.get("iso3"), p.get("admin_area"))
            if p.get("role") != "passing" and where not in seen and len(seen) < 3:
                seen.add(where)
                parts.append(
                    f"place {p.get('iso3')}{' / ' + p['admin_area'] if p.get('admin_area') else ''} "
                    f"({p.get('role')}) from {ev.get('field')} “{ev.get('text')}”"
                )
        for name in ("cases", "deaths"):
            ev = found.get(f"{name}_evidence")
            if found.get(name) is not None and ev:
                parts.append(f"{name} {found[name]} from {ev.get('field')} “{ev.get('text')}”")
        if parts:
            lines.append(f"{report.title[:120]}: " + "; ".join(parts))
    return lines


def _link(url: str) -> dict[str, object]:
    return {"url": url, "safe": bool(_SAFE_LINK.match(url))}


def digest_context(data: OutputData, delivery: Delivery[Item], day: dt.date, first_day: dt.date) -> dict:
    audience = delivery.audience
    ranked = sorted(delivery.of_kind("alert"), key=lambda i: rank_key(i.alert))
    alerts = [i.alert for i in ranked]
    views = []
    for item, alert in zip(ranked, alerts, strict=True):
        points, scored = audience_series(data, alert, audience)
        this_week = next((p for p in reversed(points) if p.period_start == alert.period_start), None)
        views.append(
            {
                "alert": alert,
                "tlp": item.tlp,
                "flags": agent_flags(alert.disease),
                "week": this_week if scored else None,
                "sparkline": sparkline_svg(
                    points,
                    label=f"weekly incidents, {alert.disease or 'unknown'} in "
                    f"{alert.country_iso3 or 'unknown country'}",
                ),
                "spark_text": text_sparkline(points),
                "evidence": assessment_lines(data.assessments.get(alert.incident_id or "")),
                "extracted": extraction_lines(
                    [r for r in delivery.records("report") if r.url in set(alert.source_urls)]
                ),
                "links": [_link(u) for u in alert.source_urls],
                "notes": [n for n in delivery.records("analystnote") if n.alert_id == alert.alert_id],
            }
        )
    countries = Counter(a.country_iso3 for a in alerts if a.country_iso3)
    # Which law-enforcement intake channels exist is itself not for wider audiences.
    health = [h for h in data.health if audience.law_enforcement or not h["law_enforcement"]]
    return {
        "day": day,
        "first_day": first_day,
        "audience": audience,
        "views": views,
        "tlp": delivery.marking,
        "tiers": {t.value: sum(a.tier == t for a in alerts) for t in AlertTier},
        "map": world_map_svg(
            dict(countries), title=f"{len(alerts)} alert(s) in {len(countries)} country(ies)"
        ),
        "unmapped": unmapped(countries),
        "countries": sorted(countries.items(), key=lambda kv: (-kv[1], kv[0])),
        "health": health,
        "health_counts": Counter(h["status"] for h in health),
        "silent_after": SILENT_AFTER_CADENCES,
    }


def render_digest(
    data: OutputData, audience: Audience, day: dt.date, lookback_days: int, *, apply_preferences: bool = True
) -> RenderedDigest:
    """The digest of ``data`` for ``audience``: pure, so tests can render any mix of records."""
    window = digest_window(day, lookback_days)
    in_window = [i for i in data.alerts if window.start.date() <= i.alert.period_start < window.end.date()]
    ids = {i.key for i in in_window}
    notes = [n for n in data.notes if n.note.alert_id in ids]
    # The alerts' reports, for "what the reports say": filtered like everything else.
    urls = {u for i in in_window for u in i.alert.source_urls}
    cited = [r for r in data.reports if r.report.url in urls]
    delivery = deliverable(
        [*in_window, *notes, *cited], audience, regions_of=regions_of(), apply_preferences=apply_preferences
    )
    context = digest_context(data, delivery, day, window.start.date())
    return RenderedDigest(
        day=day,
        html=_env.get_template("digest.html.j2").render(**context),
        text=_env.get_template("digest.txt.j2").render(**context),
        delivery=delivery,
    )


def write_digest(rendered: RenderedDigest, out_dir: StoragePath, suffix: str = "") -> DigestFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"digest-{rendered.day.isoformat()}{suffix}"
    html_path, text_path = out_dir / f"{stem}.html", out_dir / f"{stem}.txt"
    html_path.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(rendered.text, encoding="utf-8")
    return DigestFiles(
        day=rendered.day,
        html=html_path,
        text=text_path,
        alerts=len(rendered.alerts),
        tlp=rendered.tlp,
        audience=rendered.delivery.audience.name,
    )


def build_digest(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    *,
    lookback_days: int | None = None,
    clearance: Tlp = Tlp.RED,
    source_kinds: Mapping[str, SourceKind] | None = None,
) -> DigestFiles:
    """Write ``digest-<day>.html`` and ``.txt`` under ``var/out``: the analysts' own (internal) digest.

    A ``clearance`` below RED makes it a digest for a wider (non-law-enforcement) audience: it then
    also leaves out law-enforcement intake. Per-subscriber digests: :func:`build_subscriber_digest`.
    ``source_kinds`` (connector name -> kind) defaults to the connector registry.
    """
    lookback = settings.digest_lookback_days if lookback_days is None else lookback_days
    audience = (
        INTERNAL
        if clearance == Tlp.RED
        else Audience(name=f"cleared-{clearance.value}", clearance=clearance, kind="partner")
    )
    data = load_output_data(
        engine, digest_window(day, lookback), source_kinds=source_kinds, audience=audience
    )
    rendered = render_digest(data, audience, day, lookback)
    files = write_digest(rendered, settings.out_dir)
    log.info("digest for %s: %d alerts -> %s", day, files.alerts, files.html)
    return files


def build_subscriber_digest(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    audience: Audience,
    *,
    lookback_days: int | None = None,
    source_kinds: Mapping[str, SourceKind] | None = None,
) -> tuple[RenderedDigest, DigestFiles]:
    """Render and store one subscriber's digest (``digests/digest-<day>-<key>.html``/``.txt``, the key
    from :func:`~biotracker.outputs.audience.subscriber_key`)."""
    lookback = settings.digest_lookback_days if lookback_days is None else lookback_days
    data = load_output_data(
        engine, digest_window(day, lookback), source_kinds=source_kinds, audience=audience
    )
    rendered = render_digest(data, audience, day, lookback)
    return rendered, write_subscriber_digest(rendered, settings.out_dir)


def write_subscriber_digest(rendered: RenderedDigest, out_dir: StoragePath) -> DigestFiles:
    """Store a subscriber's digest under ``digests/``, named by the subscriber's key (never its raw name)."""
    return write_digest(rendered, out_dir / "digests", suffix=f"-{rendered.delivery.audience.path_key}")
