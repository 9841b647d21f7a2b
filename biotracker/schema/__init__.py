"""Shared incident schema v1 (see docs/SCHEMA.md)."""

from biotracker.schema.models import (
    SCHEMA_VERSION,
    Alert,
    AlertStatus,
    AlertTier,
    Incident,
    QuarantineItem,
    RawPayload,
    Report,
    Signal,
    SourceKind,
)
from biotracker.schema.tlp import Tlp, most_restrictive
from biotracker.schema.window import UTC, Window, as_utc

__all__ = [
    "SCHEMA_VERSION",
    "UTC",
    "Alert",
    "AlertStatus",
    "AlertTier",
    "Incident",
    "QuarantineItem",
    "RawPayload",
    "Report",
    "Signal",
    "SourceKind",
    "Tlp",
    "Window",
    "as_utc",
    "most_restrictive",
]
