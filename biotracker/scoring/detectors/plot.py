"""A picture of one series as R's ``plot()`` of an ``sts`` object draws it.

Observed counts as bars, the upper bound as a step line, alarms as red triangles under the bars:
the view analysts know from R, so they can compare Biotracker and R side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_detection(
    path: Path,
    t: np.ndarray,
    observed: np.ndarray,
    upperbound: np.ndarray,
    alarm: np.ndarray,
    *,
    title: str = "",
    dates: np.ndarray | None = None,
) -> None:
    """Write a PNG of the evaluated weeks of one series (matplotlib, Agg backend, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(dates) if dates is not None else np.asarray(t)
    width = 6.0 if dates is not None else 1.0
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.bar(x, observed, width=width, color="#b0b0b0", edgecolor="#606060", linewidth=0.5, label="Infected")
    edges: np.ndarray
    if dates is not None:
        edges = np.append(x, x[-1] + np.timedelta64(7, "D")) - np.timedelta64(3, "D")
    else:
        edges = np.append(x, x[-1] + 1) - 0.5
    ub = np.append(upperbound, upperbound[-1] if len(upperbound) else np.nan)
    ax.step(edges, ub, where="post", color="blue", linewidth=1.5, label="Threshold")
    hit = np.nan_to_num(alarm, nan=0.0) == 1
    top = max(
        np.nanmax(observed) if observed.size else 1.0,
        np.nanmax(upperbound) if np.isfinite(upperbound).any() else 0.0,
    )
    ax.plot(
        x[hit], np.full(hit.sum(), -0.04 * top), "^", color="red", markersize=7, label="Alarm", clip_on=False
    )
    ax.set_ylim(bottom=-0.08 * top)
    ax.set_xlabel("time" if dates is None else "week")
    ax.set_ylabel("No. infected")
    ax.set_title(title)
    ax.legend(loc="upper left", frameon=False, ncol=3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
