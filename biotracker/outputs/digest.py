"""Stage 6: the daily digest (``build_digest``): ranked, explained, sourced alerts as HTML and text.

Everything that reaches HTML goes through Jinja2 autoescaping. The digest carries the most
restrictive TLP marking of what it lists and lists only alerts its audience is cleared for.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, select

from biotracker.config import Settings
from biotracker.db.tables import alerts, source_health
from biotracker.schema import Alert, AlertTier, Tlp, most_restrictive

log = logging.getLogger(__name__)

_env = Environment(
    loader=PackageLoader("biotracker.outputs", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class DigestFiles:
    day: dt.date
    html: Path
    text: Path
    alerts: int
    tlp: Tlp

    def summary(self) -> dict[str, object]:
        return {"day": self.day.isoformat(), "html": str(self.html), "text": str(self.text),
                "alerts": self.alerts, "tlp": self.tlp.value}


def rank_key(alert: Alert) -> tuple[int, int, str, str]:
    """Most urgent tier first, then more reasons, then the most recent week."""
    return (alert.tier.rank, -len(alert.reasons), (dt.date.max - alert.period_start).isoformat(), alert.alert_id)


def load_digest_alerts(engine: Engine, day: dt.date, lookback_days: int, clearance: Tlp) -> list[Alert]:
    first = day - dt.timedelta(days=lookback_days)
    with engine.connect() as conn:
        rows = conn.execute(
            select(alerts).where(alerts.c.period_start >= first, alerts.c.period_start < day)
        ).mappings().all()
    items = [Alert.model_validate({k: v for k, v in row.items()}) for row in rows]
    return sorted((a for a in items if clearance.allows(a.tlp)), key=rank_key)


def build_digest(
    engine: Engine,
    settings: Settings,
    day: dt.date,
    *,
    lookback_days: int | None = None,
    clearance: Tlp = Tlp.RED,
) -> DigestFiles:
    """Write ``digest-<day>.html`` and ``.txt`` under ``var/out`` for alerts of the days before ``day``."""
    lookback = settings.digest_lookback_days if lookback_days is None else lookback_days
    items = load_digest_alerts(engine, day, lookback, clearance)
    with engine.connect() as conn:
        health = [dict(r) for r in conn.execute(select(source_health).order_by(source_health.c.source)).mappings()]
    marking = most_restrictive((a.tlp for a in items), default=Tlp.CLEAR)
    context = {
        "day": day,
        "first_day": day - dt.timedelta(days=lookback),
        "alerts": items,
        "tlp": marking,
        "tiers": {t.value: sum(a.tier == t for a in items) for t in AlertTier},
        "health": health,
    }
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    html_path = settings.out_dir / f"digest-{day.isoformat()}.html"
    text_path = settings.out_dir / f"digest-{day.isoformat()}.txt"
    html_path.write_text(_env.get_template("digest.html.j2").render(**context), encoding="utf-8")
    text_path.write_text(_env.get_template("digest.txt.j2").render(**context), encoding="utf-8")
    log.info("digest for %s: %d alerts -> %s", day, len(items), html_path)
    return DigestFiles(day=day, html=html_path, text=text_path, alerts=len(items), tlp=marking)
