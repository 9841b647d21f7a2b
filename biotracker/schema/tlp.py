"""Traffic Light Protocol 2.0 markings, ordered from the widest audience to the narrowest.

Every record carries one; every output takes the most restrictive marking of what it holds and
goes only to audiences cleared for it (see ``biotracker.outputs`` for enforcement).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Tlp(str, Enum):
    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def allows(self, marking: Tlp) -> bool:
        """True when an audience cleared for ``self`` may receive something marked ``marking``."""
        return marking.rank <= self.rank

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Accept "TLP:AMBER", "amber", "AMBER+STRICT", "WHITE" (TLP 1.0 name of CLEAR)."""
        key = text.strip().upper().removeprefix("TLP:")
        if key == "WHITE":
            return cls.CLEAR
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a TLP 2.0 marking; use one of {[m.value for m in cls]}"
            ) from None

    def __str__(self) -> str:
        return f"TLP:{self.value}"


_ORDER = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]


def most_restrictive(markings: Iterable[Tlp], default: Tlp = Tlp.CLEAR) -> Tlp:
    """The marking an output must carry when it holds records with ``markings``."""
    return max(markings, key=lambda m: m.rank, default=default)
