"""Half-open UTC time windows ``[start, end)``: what every stage works on instead of "now"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

UTC = dt.UTC


def as_utc(value: dt.datetime | dt.date | str) -> dt.datetime:
    """Timezone-aware UTC datetime from a datetime (naive = UTC), a date or an ISO string."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")

    def __contains__(self, moment: dt.datetime) -> bool:
        return self.start <= as_utc(moment) < self.end

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        return cls(as_utc(start), as_utc(end))

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"
