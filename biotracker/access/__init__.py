"""Who may see what: the one TLP 2.0 access policy every route, export and digest calls."""

from biotracker.access.policy import (
    MarkingError,
    Principal,
    Role,
    Visibility,
    check_remarking,
    may_see,
    may_see_derived,
    visibility,
)

__all__ = [
    "MarkingError",
    "Principal",
    "Role",
    "Visibility",
    "check_remarking",
    "may_see",
    "may_see_derived",
    "visibility",
]
