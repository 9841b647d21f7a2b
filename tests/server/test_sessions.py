"""Logging in through the form: CSRF, cookie flags, lock-out after repeated failures, session
fixation, logout, disabled users; all against a real server."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import httpx
import pytest

from tests.server.conftest import PASSWORD, LiveServer


def cookies_of(response: httpx.Response) -> dict[str, SimpleCookie]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            found[name] = jar
    return found


def login_form(client: httpx.Client) -> tuple[str, str]:
    """(pre-login cookie, the form's CSRF token)."""
    page = client.get("/login")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return cookies_of(page)["bt_login"]["bt_login"].value, csrf


def login(client: httpx.Client, user: str, password: str = PASSWORD, *, csrf: str | None = None,
          extra_cookie: str = "") -> httpx.Response:
    pre, form_csrf = login_form(client)
    return client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": form_csrf if csrf is None else csrf},
        headers={"Cookie": f"bt_login={pre}" + (f"; {extra_cookie}" if extra_cookie else "")},
    )


def session_cookie(response: httpx.Response) -> str:
    return "bt_session=" + cookies_of(response)["bt_session"]["bt_session"].value


@pytest.fixture
def server(start_server, tmp_path) -> LiveServer:
    from tests.server.conftest import server_settings

    return start_server(server_settings(tmp_path))


def test_login_sets_a_signed_httponly_samesite_secure_cookie_and_the_session_works(server):
    with server.client() as client:
        response = login(client, "nl_analyst")
        assert response.status_code == 200, response.text
        cookie = cookies_of(response)["bt_session"]["bt_session"]
        assert cookie["httponly"] and cookie["secure"] and cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/"
        me = client.get("/api/v1/me", headers={"Cookie": session_cookie(response)})
        assert me.status_code == 200 and me.json()["org"] == "NCB-NL" and me.json()["via"] == "session"
        forged = session_cookie(response)[:-3] + "AAA"
        assert client.get("/api/v1/me", headers={"Cookie": forged}).status_code == 401


@pytest.mark.parametrize("csrf", ["", "wrong-token"])
def test_a_login_without_the_forms_csrf_token_is_refused(server, csrf):
    with server.client() as client:
        assert login(client, "nl_analyst", csrf=csrf).status_code == 403
        # a CSRF token of another browser's form does not fit this browser's pre-login cookie
        _, other = login_form(client)
        pre, _ = login_form(client)
        forged = client.post("/login", data={"username": "nl_analyst", "password": PASSWORD, "csrf_token": other},
                             headers={"Cookie": f"bt_login={pre}"})
        assert forged.status_code == 403


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_state_changing_session_requests_need_the_sessions_csrf_token(server, csrf):
    with server.client() as client:
        response = login(client, "nl_contrib")
        cookie = session_cookie(response)
        headers = {"Cookie": cookie} | ({} if csrf is None else {"X-CSRF-Token": csrf})
        report = {"title": "Anthrax in cattle", "reported_at": "2026-11-28T10:00:00Z"}
        assert client.post("/api/v1/reports", json=report, headers=headers).status_code == 403
        assert client.post("/logout", data={"csrf_token": csrf or ""}, headers={"Cookie": cookie}).status_code == 403
        good = {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf_token"]}
        assert client.post("/api/v1/reports", json=report, headers=good).status_code == 201


def test_repeated_failures_lock_the_name_out_even_with_the_right_password_then(server):
    with server.client() as client:
        for _ in range(server.settings.login_max_failures):
            assert login(client, "fr_analyst", "wrong password!").status_code == 401
        locked = login(client, "fr_analyst")
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "bt_session" not in cookies_of(locked)
        # unknown names are throttled the same way, so the lock-out does not reveal who exists
        for _ in range(server.settings.login_max_failures):
            assert login(client, "nobody_here", "wrong password!").status_code == 401
        assert login(client, "nobody_here", "wrong password!").status_code == 429
        assert login(client, "nl_analyst").status_code == 200  # others are unaffected


def test_login_always_issues_a_new_session_and_ends_the_one_presented(server):
    with server.client() as client:
        first = session_cookie(login(client, "nl_analyst"))
        # an attacker who planted their own (valid) session cookie does not get the victim's login
        second_response = login(client, "fr_analyst", extra_cookie=first)
        second = session_cookie(second_response)
        assert second != first
        assert client.get("/api/v1/me", headers={"Cookie": first}).status_code == 401
        assert client.get("/api/v1/me", headers={"Cookie": second}).json()["username"] == "fr_analyst"
        # a made-up id the browser held before logging in is never promoted
        planted = "bt_session=attacker-chosen-id.fake"
        third = session_cookie(login(client, "nl_analyst", extra_cookie=planted))
        assert "attacker-chosen-id" not in third
        assert client.get("/api/v1/me", headers={"Cookie": planted}).status_code == 401


def test_logout_and_disabling_a_user_end_sessions_and_tokens(server):
    from biotracker.server.accounts import disable_user
    from tests.server.conftest import NOW

    with server.client() as client:
        response = login(client, "nl_analyst")
        cookie, csrf = session_cookie(response), response.json()["csrf_token"]
        assert client.post("/logout", data={"csrf_token": csrf}, headers={"Cookie": cookie}).status_code == 200
        assert client.get("/api/v1/me", headers={"Cookie": cookie}).status_code == 401
        other = session_cookie(login(client, "fr_analyst"))
    with server.engine.begin() as conn:
        disable_user(conn, "fr_analyst", NOW)
    with server.client() as client:
        assert client.get("/api/v1/me", headers={"Cookie": other}).status_code == 401
        assert login(client, "fr_analyst").status_code == 401
    assert server.client("fr_analyst").get("/api/v1/alerts").status_code == 401
