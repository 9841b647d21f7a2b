"""Organisations, users, passwords, API tokens and login sessions: the server's account store.

Secrets are never stored: passwords as Argon2id hashes, API tokens and session ids as sha256 of a
256-bit random value (a fast hash is enough for a value nobody can guess; it lets a token be
looked up by its hash in one indexed query). Every function takes the connection and ``now``, so
the CLI, the server and the tests share them and time is never read behind the caller's back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, RowMapping, insert, select, update

from biotracker.access import Principal, Role
from biotracker.db.tables import api_tokens, login_failures, organisations, sessions, users
from biotracker.errors import BiotrackerError

#: Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: 3 passes over 64 MiB).
_HASHER = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
TOKEN_PREFIX = "bt_"
MIN_PASSWORD_LENGTH = 12


class AccountError(BiotrackerError):
    """An account command that cannot be done as asked (unknown organisation, duplicate user, ...)."""


class Scope(str, Enum):
    """What an API token may do: ``read`` only reads, ``write`` also contributes and changes."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class UserRow:
    username: str
    org: str
    role: Role
    disabled: bool
    created_at: dt.datetime


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise AccountError(
            f"{kind} name {name!r} is not allowed: use 1-100 letters, digits or . _ @ -, starting with a "
            "letter or digit"
        )
    return name


# --- organisations ------------------------------------------------------------------------------


def add_org(conn: Connection, name: str, now: dt.datetime) -> None:
    _check_name("organisation", name)
    if org_exists(conn, name):
        raise AccountError(f"organisation {name!r} already exists; `biotracker orgs list` shows them")
    conn.execute(insert(organisations).values(name=name, created_at=now))


def org_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(organisations.c.name).where(organisations.c.name == name)).first() is not None


def list_orgs(conn: Connection) -> list[str]:
    return list(conn.execute(select(organisations.c.name).order_by(organisations.c.name)).scalars())


# --- users and passwords ------------------------------------------------------------------------


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so a wrong name costs as long as a wrong password."""
    key = id(_HASHER)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _HASHER.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def add_user(conn: Connection, username: str, org: str, role: Role, password: str, now: dt.datetime) -> None:
    _check_name("user", username)
    if not org_exists(conn, org):
        raise AccountError(f"no organisation {org!r}; create it first with `biotracker orgs add {org}`")
    if find_user(conn, username) is not None:
        raise AccountError(f"user {username!r} already exists; `biotracker users list` shows them")
    conn.execute(
        insert(users).values(
            username=username,
            org=org,
            role=role.value,
            password_hash=hash_password(password),
            disabled=False,
            created_at=now,
        )
    )


def _user_row(row: RowMapping) -> UserRow:
    return UserRow(row["username"], row["org"], Role(row["role"]), row["disabled"], row["created_at"])


def find_user(conn: Connection, username: str) -> UserRow | None:
    row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else _user_row(row)


def list_users(conn: Connection, org: str | None = None) -> list[UserRow]:
    """Every user (of ``org``), by name, in one query (pages list an organisation's users on every view)."""
    query = select(users).order_by(users.c.username)
    if org:
        query = query.where(users.c.org == org)
    return [_user_row(row) for row in conn.execute(query).mappings()]


def disable_user(conn: Connection, username: str, now: dt.datetime) -> None:
    """Disable the user and end their sessions and tokens at once."""
    if find_user(conn, username) is None:
        raise AccountError(f"no user {username!r}; `biotracker users list` shows them")
    conn.execute(update(users).where(users.c.username == username).values(disabled=True))
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.username == username, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    conn.execute(
        update(sessions)
        .where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def active_principal(conn: Connection, username: str) -> Principal | None:
    user = find_user(conn, username)
    if user is None or user.disabled:
        return None
    return Principal(user.username, user.org, user.role)


def authenticate(conn: Connection, username: str, password: str) -> Principal | None:
    """The principal when the password is right and the user active; None otherwise (same cost either way)."""
    row = conn.execute(select(users.c.password_hash).where(users.c.username == username)).first()
    ok = password_matches(row[0] if row else _dummy_hash(), password)
    return active_principal(conn, username) if ok and row else None


# --- login throttling ---------------------------------------------------------------------------


def locked_until(conn: Connection, username: str, now: dt.datetime) -> dt.datetime | None:
    row = conn.execute(
        select(login_failures.c.locked_until).where(login_failures.c.username == username)
    ).first()
    return row[0] if row and row[0] is not None and row[0] > now else None


def record_login_failure(
    conn: Connection, username: str, now: dt.datetime, *, max_failures: int, lockout: dt.timedelta
) -> dt.datetime | None:
    """Count a failed login; lock the name out for ``lockout`` at ``max_failures``. Returns the lock end."""
    row = conn.execute(select(login_failures.c.failures).where(login_failures.c.username == username)).first()
    failures = (row[0] if row else 0) + 1
    until = now + lockout if failures >= max_failures else None
    values = {"failures": 0 if until else failures, "last_failure_at": now, "locked_until": until}
    if row is None:
        conn.execute(insert(login_failures).values(username=username, **values))
    else:
        conn.execute(update(login_failures).where(login_failures.c.username == username).values(**values))
    return until


def clear_login_failures(conn: Connection, username: str) -> None:
    conn.execute(
        update(login_failures)
        .where(login_failures.c.username == username)
        .values(failures=0, locked_until=None)
    )


# --- API tokens ---------------------------------------------------------------------------------


def issue_token(
    conn: Connection, username: str, scope: Scope, now: dt.datetime, lifetime: dt.timedelta
) -> tuple[str, str]:
    """A new token for an active user: (token_id, secret). The secret is shown once and never stored."""
    if active_principal(conn, username) is None:
        raise AccountError(f"no active user {username!r}; `biotracker users list` shows them")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = sha256_hex(secret)
    token_id = digest[:16]
    conn.execute(
        insert(api_tokens).values(
            token_id=token_id,
            token_sha256=digest,
            username=username,
            scope=scope.value,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token_id, secret


def revoke_token(conn: Connection, token_id: str, now: dt.datetime) -> None:
    row = conn.execute(select(api_tokens.c.revoked_at).where(api_tokens.c.token_id == token_id)).first()
    if row is None:
        raise AccountError(f"no token {token_id!r}; `biotracker tokens list` shows the token ids")
    if row[0] is None:
        conn.execute(update(api_tokens).where(api_tokens.c.token_id == token_id).values(revoked_at=now))


def list_tokens(conn: Connection, username: str | None = None) -> list[dict[str, object]]:
    query = select(
        api_tokens.c.token_id,
        api_tokens.c.username,
        api_tokens.c.scope,
        api_tokens.c.created_at,
        api_tokens.c.expires_at,
        api_tokens.c.revoked_at,
    ).order_by(api_tokens.c.created_at)
    if username:
        query = query.where(api_tokens.c.username == username)
    return [dict(r) for r in conn.execute(query).mappings()]


def principal_for_token(conn: Connection, secret: str, now: dt.datetime) -> tuple[Principal, Scope] | None:
    """Who a bearer token stands for, when it is known, unexpired, unrevoked and its user active."""
    row = (
        conn.execute(select(api_tokens).where(api_tokens.c.token_sha256 == sha256_hex(secret)))
        .mappings()
        .first()
    )
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return None
    principal = active_principal(conn, row["username"])
    return (principal, Scope(row["scope"])) if principal else None


# --- sessions -----------------------------------------------------------------------------------


def create_session(
    conn: Connection, username: str, now: dt.datetime, lifetime: dt.timedelta
) -> tuple[str, str]:
    """A fresh session for a user who just logged in: (session id for the cookie, CSRF token).

    Always a new id: an id the browser held before logging in is never promoted (session fixation).
    """
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        insert(sessions).values(
            session_sha256=sha256_hex(session_id),
            username=username,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return session_id, csrf


def session_principal(conn: Connection, session_id: str, now: dt.datetime) -> tuple[Principal, str] | None:
    """(principal, CSRF token) of a live session, or None."""
    row = (
        conn.execute(select(sessions).where(sessions.c.session_sha256 == sha256_hex(session_id)))
        .mappings()
        .first()
    )
    if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
        return None
    principal = active_principal(conn, row["username"])
    return (principal, row["csrf_token"]) if principal else None


def end_session(conn: Connection, session_id: str, now: dt.datetime) -> None:
    conn.execute(
        update(sessions)
        .where(sessions.c.session_sha256 == sha256_hex(session_id), sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
