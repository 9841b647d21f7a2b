"""Saved queue views: a name an analyst gives to a set of queue filters, kept per user.

A view stores the filter query string only (re-parsed by :class:`~biotracker.web.queue.QueueFilters`
when opened), so a view never holds data and never outlives what the policy lets its owner see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from biotracker.db.tables import saved_views
from biotracker.db.upsert import upsert

MAX_VIEWS = 50


@dataclass(frozen=True)
class SavedView:
    view_id: str
    name: str
    query: str


class ViewError(ValueError):
    """A view that cannot be saved (no name, too many views); the message says what to do."""


def view_id(username: str, name: str) -> str:
    return hashlib.sha256(f"{username}|{name}".encode()).hexdigest()[:32]


def list_views(conn: Connection, username: str) -> list[SavedView]:
    query = select(saved_views).where(saved_views.c.username == username).order_by(saved_views.c.name)
    return [SavedView(r["view_id"], r["name"], r["query"]) for r in conn.execute(query).mappings()]


def save_view(conn: Connection, username: str, name: str, query: str, at: dt.datetime) -> SavedView:
    """Save (or replace, same name) one of ``username``'s views."""
    name = " ".join(name.split())[:100]
    if not name:
        raise ViewError("give the view a name")
    existing = list_views(conn, username)
    if len(existing) >= MAX_VIEWS and name not in {v.name for v in existing}:
        raise ViewError(f"at most {MAX_VIEWS} saved views: delete one first")
    view = SavedView(view_id(username, name), name, query[:2000])
    row = {"view_id": view.view_id, "username": username, "name": name, "query": view.query, "created_at": at}
    upsert(conn, saved_views, [row])
    return view


def delete_view(conn: Connection, username: str, view_id: str) -> bool:
    """Delete one of ``username``'s views (never another user's); True when one was deleted."""
    result = conn.execute(
        delete(saved_views).where(saved_views.c.username == username, saved_views.c.view_id == view_id)
    )
    return bool(result.rowcount)
