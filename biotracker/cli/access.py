"""Admin commands of the shared repository: ``orgs``, ``users``, ``tokens`` and ``audit``.

``tokens issue`` prints the token alone on standard output so scripts can capture it; everything
else that is not the answer goes to standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from sqlalchemy import Connection

from biotracker.cli.options import iso_moment

if TYPE_CHECKING:
    from biotracker.config import Settings

orgs_app = typer.Typer(help="Organisations that own and share records.", no_args_is_help=True)
users_app = typer.Typer(
    help="Users: each belongs to one organisation and has one role.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens (stored hashed, scoped, expiring, revocable).", no_args_is_help=True
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def _store() -> Iterator[tuple[Connection, Settings]]:
    """A transaction on the configured store; account errors end the command with their message."""
    from biotracker.config import load_settings
    from biotracker.db.engine import open_store
    from biotracker.server.accounts import AccountError

    settings = load_settings()
    engine = open_store(settings)
    try:
        with engine.begin() as conn:
            yield conn, settings
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


def _audit_admin(conn: Connection, what: str, record_ids: tuple[str, ...] = ()) -> None:
    import getpass

    from biotracker.server.audit import Action, AuditEntry, Outcome, append

    actor = f"cli:{getpass.getuser()}"
    append(conn, AuditEntry(_now(), actor, Action.ADMIN, Outcome.OK, record_ids=record_ids, detail=what))


@orgs_app.command("add")
def orgs_add(name: str) -> None:
    """Create organisation NAME."""
    from biotracker.server.accounts import add_org

    with _store() as (conn, _):
        add_org(conn, name, _now())
        _audit_admin(conn, f"orgs add {name}")
    typer.echo(f"organisation {name} created", err=True)


@orgs_app.command("list")
def orgs_list() -> None:
    """Organisation names, one a line."""
    from biotracker.server.accounts import list_orgs

    with _store() as (conn, _):
        names = list_orgs(conn)
    for name in names:
        typer.echo(name)


@users_app.command("add")
def users_add(
    username: str,
    org: str = typer.Option(..., "--org", help="Organisation the user belongs to."),
    role: str = typer.Option(..., "--role", help="analyst, contributor, operator or admin."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (one line)."
    ),
) -> None:
    """Create user USERNAME in organisation --org with role --role."""
    from biotracker.access import Role

    if not password_stdin:
        typer.echo("error: pass --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    try:
        parsed_role = Role.parse(role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    password = sys.stdin.readline().rstrip("\r\n")
    from biotracker.server.accounts import add_user

    with _store() as (conn, _):
        add_user(conn, username, org, parsed_role, password, _now())
        _audit_admin(conn, f"users add {username} --org {org} --role {parsed_role.value}")
    typer.echo(f"user {username} ({parsed_role.value}, {org}) created", err=True)


@users_app.command("list")
def users_list(
    org: str | None = typer.Option(None, "--org", help="Only this organisation."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Users with their organisation, role and state."""
    from biotracker.server.accounts import list_users

    with _store() as (conn, _):
        rows = list_users(conn, org)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"username": u.username, "org": u.org, "role": u.role.value, "disabled": u.disabled}
                    for u in rows
                ],
                indent=2,
            )
        )
        return
    for u in rows:
        typer.echo(f"{u.username}\t{u.org}\t{u.role.value}\t{'disabled' if u.disabled else 'active'}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable USERNAME: its sessions and tokens stop working at once."""
    from biotracker.server.accounts import disable_user

    with _store() as (conn, _):
        disable_user(conn, username, _now())
        _audit_admin(conn, f"users disable {username}")
    typer.echo(f"user {username} disabled", err=True)


#: The documented demo community (docs/ACCESS.md): username -> (organisation, role).
DEMO_USERS = {
    "interpol.admin": ("INTERPOL", "admin"),
    "nl.analyst": ("NCB-NL", "analyst"),
    "nl.contributor": ("NCB-NL", "contributor"),
    "fr.analyst": ("NCB-FR", "analyst"),
    "who.analyst": ("WHO-EURO", "analyst"),
}


@users_app.command("demo")
def users_demo() -> None:
    """Create the demo organisations and users; new passwords are printed once (never stored in clear)."""
    import secrets

    from biotracker.access import Role
    from biotracker.server.accounts import add_org, add_user, find_user, org_exists

    created: list[tuple[str, str, str, str]] = []
    with _store() as (conn, _):
        for org in sorted({org for org, _ in DEMO_USERS.values()}):
            if not org_exists(conn, org):
                add_org(conn, org, _now())
        for username, (org, role) in DEMO_USERS.items():
            if find_user(conn, username) is not None:
                created.append((username, org, role, "(exists; password unchanged)"))
                continue
            password = secrets.token_urlsafe(12)
            add_user(conn, username, org, Role(role), password, _now())
            created.append((username, org, role, password))
        _audit_admin(conn, "users demo")
    typer.echo("Demo users (passwords are shown only now; store them or run `users demo` on a fresh store):")
    for username, org, role, password in created:
        typer.echo(f"  {username:16} {org:10} {role:12} {password}")


@tokens_app.command("issue")
def tokens_issue(
    username: str,
    scope: str = typer.Option("read", "--scope", help="read, or write (contribute and change)."),
    days: int | None = typer.Option(
        None, "--days", min=1, max=3660, help="Lifetime in days (default: BIOTRACKER_TOKEN_DAYS)."
    ),
) -> None:
    """Issue an API token for USERNAME; the token alone is printed on standard output, once."""
    from biotracker.server.accounts import Scope, issue_token

    try:
        parsed = Scope(scope.strip().lower())
    except ValueError:
        typer.echo(f"error: --scope must be read or write, not {scope!r}", err=True)
        raise typer.Exit(2) from None
    with _store() as (conn, settings):
        lifetime = dt.timedelta(days=days if days is not None else settings.token_days)
        token_id, secret = issue_token(conn, username, parsed, _now(), lifetime)
        _audit_admin(conn, f"tokens issue {username} --scope {parsed.value}", (token_id,))
    typer.echo(f"token {token_id} issued to {username} ({parsed.value}); it is shown only now", err=True)
    typer.echo(secret)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke the token with id TOKEN_ID (see `tokens list`)."""
    from biotracker.server.accounts import revoke_token

    with _store() as (conn, _):
        revoke_token(conn, token_id, _now())
        _audit_admin(conn, f"tokens revoke {token_id}", (token_id,))
    typer.echo(f"token {token_id} revoked", err=True)


@tokens_app.command("list")
def tokens_list(username: str | None = typer.Argument(None, help="Only this user's tokens.")) -> None:
    """Token ids with user, scope, expiry and revocation (never the tokens themselves)."""
    from biotracker.server.accounts import list_tokens

    with _store() as (conn, _):
        rows = list_tokens(conn, username)
    for r in rows:
        state = (
            f"revoked {r['revoked_at']:%Y-%m-%d}"
            if r["revoked_at"]
            else f"expires {r['expires_at']:%Y-%m-%d}"
        )
        typer.echo(f"{r['token_id']}\t{r['username']}\t{r['scope']}\t{state}")


def audit(
    user: str | None = typer.Option(None, "--user", help="Only this user's actions."),
    since: str | None = typer.Option(
        None, "--since", callback=iso_moment, help="From this ISO 8601 time or date on (UTC)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines."),
) -> None:
    """Print the audit log: logins, failed logins, token use, reads of AMBER/RED records, writes."""
    from biotracker.schema import as_utc
    from biotracker.server.audit import read_audit

    start = as_utc(since) if since else None
    with _store() as (conn, _):
        entries = read_audit(conn, user=user, since=start)
    for e in entries:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "at": e.at.isoformat(),
                        "actor": e.actor,
                        "org": e.org,
                        "action": e.action.value,
                        "record_ids": list(e.record_ids),
                        "outcome": e.outcome.value,
                        "detail": e.detail,
                        "remote": e.remote,
                    }
                )
            )
        else:
            ids = ",".join(e.record_ids)
            typer.echo(
                f"{e.at.isoformat()}\t{e.actor}\t{e.org or '-'}\t{e.action.value}\t{e.outcome.value}\t{ids}\t{e.detail}"
            )


def register(app: typer.Typer) -> None:
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.command("audit")(audit)
