"""MISP feed figures on the demo: what the feed holds, how long export, re-export and import take.

Runs the demo into a temporary home (or uses ``--home`` of an earlier demo), exports the MISP feed
for the analysts' own audience and for a GREEN partner, exports again unchanged (no event may
change), then pulls the partner feed into a fresh store through the replay server. Prints events,
objects, attributes and tags per event, distributions, markings, feed size and timings.

    python benchmarks/misp_feed.py [--home DIR]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def feed_figures(folder: Path) -> dict[str, object]:
    events = [json.loads(p.read_text())["Event"] for p in folder.glob("*-*.json")]
    tags = [len(e.get("Tag", [])) for e in events]
    objects = collections.Counter(o["name"] for e in events for o in e.get("Object", []))
    return {
        "events": len(events),
        "objects": dict(objects),
        "attributes": sum(
            len(e.get("Attribute", [])) + sum(len(o["Attribute"]) for o in e.get("Object", [])) for e in events
        ),
        "tags per event (min/median/max)": (min(tags), statistics.median(tags), max(tags)) if tags else None,
        "distribution": dict(collections.Counter(int(e["distribution"]) for e in events)),
        "markings": dict(
            collections.Counter(t["name"] for e in events for t in e["Tag"] if t["name"].startswith("tlp:"))
        ),
        "bytes": sum(p.stat().st_size for p in folder.iterdir()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="home of an existing demo run (default: run the demo)")
    args = parser.parse_args()

    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.outputs.audience import INTERNAL, Audience
    from biotracker.outputs.misp import export_misp, with_all_assessments
    from biotracker.outputs.records import load_output_data
    from biotracker.pipeline import run_demo
    from biotracker.schema import Tlp
    from tests.connectors.test_misp_partner import pull

    work = Path(tempfile.mkdtemp(prefix="bt-misp-bench-"))
    home = args.home or work / "demo"
    settings = load_settings({}, home=str(home))
    if args.home is None:
        started = time.perf_counter()
        run_demo(settings)
        print(f"demo: {time.perf_counter() - started:.1f} s")
    engine = open_store(settings)
    data = with_all_assessments(load_output_data(engine), engine)
    now = dt.datetime.now(dt.UTC)
    for audience in (INTERNAL, Audience("partners", Tlp.GREEN, "public_health")):
        folder = work / f"feed-{audience.name}"
        started = time.perf_counter()
        first = export_misp(data, audience, folder, now=now)
        took = time.perf_counter() - started
        started = time.perf_counter()
        again = export_misp(data, audience, folder, now=now + dt.timedelta(hours=1))
        again_took = time.perf_counter() - started
        print(f"\naudience {audience.name} (cleared {audience.clearance}): export {took:.1f} s, "
              f"unchanged re-export {again_took:.1f} s, changed events on re-export: {again.changed}, "
              f"withheld {first.withheld}")
        for key, value in feed_figures(folder).items():
            print(f"  {key}: {value}")
    started = time.perf_counter()
    _, engine_b, fetched, _ = pull(work / "feed-partners", work / "importer")
    with engine_b.connect() as conn:
        count = conn.exec_driver_sql("select count(*) from reports").scalar_one()
    print(f"\nimport of the partner feed: {fetched.pages} payloads, {count} reports, "
          f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
