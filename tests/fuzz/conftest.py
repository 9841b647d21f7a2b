"""Prints the fuzzing figures (examples tried, crashes, items lost per connector) after the run."""

from __future__ import annotations

from tests.fuzz.stats import STATS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001 (pytest hook)
    if not STATS:
        return
    terminalreporter.section("fuzzing: recorded payloads mutated through ingest -> normalise")
    terminalreporter.write_line(f"{'connector':<18}{'examples':>9}{'crashes':>9}{'items lost':>11}"
                                f"{'quarantined':>12}{'seconds':>9}")
    for name, row in sorted(STATS.items()):
        terminalreporter.write_line(f"{name:<18}{row['examples']:>9}{row['crashes']:>9}{row['lost']:>11}"
                                    f"{row['quarantined']:>12}{row['seconds']:>9.1f}")
    total = {k: sum(r[k] for r in STATS.values()) for k in ("examples", "crashes", "lost", "quarantined", "seconds")}
    terminalreporter.write_line(f"{'total':<18}{total['examples']:>9}{total['crashes']:>9}{total['lost']:>11}"
                                f"{total['quarantined']:>12}{total['seconds']:>9.1f}")
