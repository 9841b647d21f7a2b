"""Settings from the environment and an optional TOML file: the only reader of ``os.environ``.

Precedence (highest first): environment variables ``BIOTRACKER_*``, the TOML file named by
``BIOTRACKER_CONFIG`` (keys are the variable names without the prefix, lower case), defaults.
Every stage receives a ``Settings`` object instead of reading the environment itself, so tests
and DAG tasks can run several configurations in one process.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from biotracker.errors import ConfigError
from biotracker.storage import StoragePath, location, parse_options

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
#: The recorded real payloads bundled with the project (replayed by the demo and the tests).
BUNDLED_RECORDINGS = REPO_DIR / "tests" / "fixtures" / "feeds"


@dataclass(frozen=True)
class Settings:
    """Where Biotracker keeps its data and how it reaches the outside world."""

    home: Path = field(default_factory=lambda: Path.cwd() / "var")
    database_url: str = ""
    #: When set, connectors replay recordings from this folder through a local HTTP server
    #: instead of reaching the real services.
    replay_dir: Path | None = None
    user_agent: str = "Biotracker/0.1 (+https://github.com/biotracker/biotracker; early-warning research)"
    http_timeout_s: float = 30.0
    #: Overall deadline of one fetch (one address, retries, redirects and the whole body included):
    #: a server that drips a byte a second gives up here with a retryable error.
    http_deadline_s: float = 300.0
    http_max_bytes: int = 20 * 1024 * 1024
    http_retries: int = 3
    #: Cap on the decompressed size of one payload (a gzip bomb stops here); ``http_max_bytes``
    #: caps what arrives over the wire and the size of a dropped file.
    http_max_decompressed_bytes: int = 64 * 1024 * 1024
    #: Folder that drop-folder connectors read (one sub-folder per connector, e.g.
    #: ``<dropfolder_dir>/police_reports/``). Default: ``<home>/drop``.
    dropfolder_dir: Path | None = None
    #: Days of alerts a digest lists, ending at its day.
    digest_lookback_days: int = 7
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "biotracker@localhost"
    smtp_timeout_s: float = 30.0
    #: Extra attempts after a failed send (the message is stored first, so nothing is lost).
    smtp_retries: int = 3
    #: Pause before retry n is n times this many seconds.
    smtp_retry_delay_s: float = 5.0
    #: TOML file of ``[[subscriber]]`` profiles (see config/subscribers.example.toml).
    subscribers_file: Path | None = None
    #: CA bundle to verify the SMTP server's STARTTLS certificate (default: the system's).
    smtp_ca_file: Path | None = None
    #: Folder of trained model artefacts (skops) and their model cards. Default: ``models/`` at the
    #: repository root (``REPO_DIR / "models"``).
    models_dir: Path | None = None
    #: Where files live (raw archive, outputs, mail outbox, HTTP validators, models when
    #: ``models_dir`` is unset): a shared path or an fsspec URL such as ``s3://bucket/biotracker``.
    #: Default: ``home``. See biotracker/storage.py.
    storage_url: str = ""
    #: JSON object of fsspec options for ``storage_url`` (e.g. ``{"endpoint_url": "http://minio:9000"}``).
    storage_options: str = ""
    # --- the shared repository server (biotracker serve; docs/ACCESS.md) ---
    #: Organisation that originates every feed record (records with no originator of their own).
    community_org: str = "community"
    #: Let callers without a session or token read TLP:CLEAR records (the API still answers 401).
    allow_anonymous: bool = False
    #: Key that signs session cookies. Set it in production (a long random string, by environment);
    #: when empty, ``biotracker serve`` makes a random one, so sessions end when the server restarts.
    server_secret_key: str = ""
    #: Send the session cookie only over HTTPS (turn off only for plain-HTTP development on loopback).
    server_cookie_secure: bool = True
    session_hours: float = 12.0
    token_days: int = 90
    #: Failed logins for one username before it is locked out, and for how long.
    login_max_failures: int = 5
    login_lockout_minutes: float = 15.0
    #: Largest request body the server reads (a contribution of many reports included).
    server_max_body_bytes: int = 1_000_000

    @property
    def storage_root(self) -> StoragePath:
        if not self.storage_url:
            return self.home
        return location(self.storage_url, parse_options(self.storage_options))

    @property
    def raw_dir(self) -> StoragePath:
        return self.storage_root / "raw"

    @property
    def out_dir(self) -> StoragePath:
        return self.storage_root / "out"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'biotracker.db'}"


_PREFIX = "BIOTRACKER_"


def _coerce(name: str, raw: object, kind: type | str) -> object:
    text = str(raw)
    try:
        if kind in (bool, "bool"):
            if isinstance(raw, bool):
                return raw
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(text)
        if kind in (int, "int"):
            return int(raw if isinstance(raw, (str, int, float)) else text)
        if kind in (float, "float"):
            return float(raw if isinstance(raw, (str, int, float)) else text)
        if kind in ("Path", "Path | None"):
            return Path(text).expanduser() if text else None
    except ValueError as exc:
        raise ConfigError(
            f"{_PREFIX}{name.upper()}={text!r} is not a valid {kind}; fix the environment variable "
            f"or the key {name!r} in the BIOTRACKER_CONFIG file"
        ) from exc
    return text


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``env`` (default: the process environment), the config file and overrides."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    config_file = env.get(f"{_PREFIX}CONFIG")
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(
                f"BIOTRACKER_CONFIG points to {path}, which does not exist; create it or unset the variable"
            )
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML (UTF-8): {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read BIOTRACKER_CONFIG file {path}: {exc.strerror or exc}") from exc
    known = {f.name: f for f in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown keys in {config_file}: {sorted(unknown)}; known keys are {sorted(known)}")
    for name in known:
        key = f"{_PREFIX}{name.upper()}"
        if key in env:
            values[name] = env[key]
    values.update(overrides)
    kwargs: dict[str, Any] = {name: _coerce(name, value, known[name].type) for name, value in values.items()}
    if "home" in kwargs and kwargs["home"] is None:
        kwargs.pop("home")
    settings = replace(Settings(), **kwargs)
    check_ranges(settings)
    return settings


_PLAIN_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
#: Bounds of numeric settings: (least, greatest, least is exclusive).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "http_timeout_s": (0, 3600, True),
    "http_max_bytes": (0, 2**40, True),
    "http_retries": (0, 100, False),
    "http_max_decompressed_bytes": (0, 2**40, True),
    "digest_lookback_days": (0, 3660, False),
    "smtp_port": (1, 65535, False),
    "smtp_timeout_s": (0, 3600, True),
    "smtp_retries": (0, 100, False),
    "smtp_retry_delay_s": (0, 3600, False),
}


def check_ranges(settings: Settings) -> None:
    """Refuse numbers no deployment means (a negative look-back, port 0, a NaN time-out), and a
    sender address that is not one plain address (it goes into every email's From header)."""
    if not _PLAIN_ADDRESS.fullmatch(settings.mail_from):
        raise ConfigError(
            f"{_PREFIX}MAIL_FROM={settings.mail_from!r} is not one plain address like digest@agency.example; "
            "fix the environment variable or the key 'mail_from' in the BIOTRACKER_CONFIG file"
        )
    for name, (least, greatest, exclusive) in _RANGES.items():
        value = getattr(settings, name)
        below = value <= least if exclusive else value < least
        if math.isnan(value) or below or value > greatest:
            bound = f"more than {least:g}" if exclusive else f"at least {least:g}"
            raise ConfigError(
                f"{_PREFIX}{name.upper()}={value!r} is out of range: it must be {bound} and at most "
                f"{greatest:g}; fix the environment variable or the key {name!r} in the BIOTRACKER_CONFIG file"
            )


def prepare_home(settings: Settings) -> Path:
    """Create ``BIOTRACKER_HOME`` if needed and check that Biotracker may write there.

    Called before any stage touches the store, so an impossible or read-only home is one clear
    ``ConfigError`` instead of a failure deep inside SQLite or an output writer.
    """
    home = settings.home
    advice = "set BIOTRACKER_HOME to a folder you may write to (default: ./var)"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"BIOTRACKER_HOME={home} is a file, not a folder; {advice}") from exc
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"BIOTRACKER_HOME={home} cannot be created ({reason}); {advice}") from exc
    if not home.is_dir():
        raise ConfigError(f"BIOTRACKER_HOME={home} is not a folder; {advice}")
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"BIOTRACKER_HOME={home} is not writable; {advice}")
    return home
