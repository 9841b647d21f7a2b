"""What every request handler needs: settings, the store, the clock, the signing key and the policy rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from biotracker.config import Settings
from biotracker.server.visibility import Rules


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ServerContext:
    settings: Settings
    engine: Engine
    secret_key: str
    rules: Rules
    clock: Callable[[], dt.datetime] = utc_now
