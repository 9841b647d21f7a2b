"""Group evaluated weeks that share one GLM design, so each group is fitted in one batch.

For a week-indexed series every evaluated week has the same design once time is measured
relative to the evaluated week; for a dated series the 52/53-week lags create a handful of
variants. Each group's rows are (week, series) pairs, processed in chunks to bound memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

#: Rows (series x weeks) per batch: keeps the (rows x reference weeks) arrays to a few MB.
CHUNK_ROWS = 512


def group_weeks(keys: Sequence[Hashable]) -> list[list[int]]:
    """Positions of equal keys, in first-seen order."""
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for pos, key in enumerate(keys):
        groups[key].append(pos)
    return list(groups.values())


def row_chunks(n_weeks: int, n_series: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (week positions, series positions) of the rows of each chunk, week-major."""
    total = n_weeks * n_series
    for start in range(0, total, CHUNK_ROWS):
        rows = np.arange(start, min(start + CHUNK_ROWS, total))
        yield rows // n_series, rows % n_series
