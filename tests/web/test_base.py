"""The workbench's frame: login through the contract's form, the session a page needs, logout, the
layout's landmarks and navigation, vendored assets, and the login and queue pages under axe-core."""

from __future__ import annotations

import re

import httpx


def test_a_page_without_a_session_sends_the_browser_to_the_login_form_and_back(new_page, demo_server, axe, shot):
    page = new_page(None)
    page.goto("/?tier=critical")
    assert page.url.startswith(f"{demo_server.url}/login?next=")
    form = page.locator("form[action='/login']")
    assert form.locator("input[name='username']").count() == 1
    assert form.locator("input[name='password'][type='password']").count() == 1
    assert form.locator("input[type='hidden'][name='csrf_token']").get_attribute("value")
    axe(page, "login")
    shot(page, "login")
    page.fill("#username", "nl_analyst")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong username or password."
    from tests.server.conftest import PASSWORD

    page.fill("#username", "nl_analyst")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo_server.url}/?tier=critical")
    assert page.locator("h1").inner_text() == "Alert queue"


def test_post_login_redirects_a_browser_to_the_queue_and_api_clients_still_get_json(demo_server):
    with httpx.Client(base_url=demo_server.url) as client:
        form = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        from tests.server.conftest import PASSWORD

        data = {"username": "fr_analyst", "password": PASSWORD, "csrf_token": csrf}
        browser_like = client.post("/login", data=data, headers={"Accept": "text/html"})
        assert browser_like.status_code == 303 and browser_like.headers["location"] == "/"
        assert "bt_session" in browser_like.cookies
        # a login never redirects off this server, whatever "next" says
        form = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        offsite = client.post("/login", data=data | {"csrf_token": csrf, "next": "//evil.example/"},
                              headers={"Accept": "text/html"})
        assert offsite.headers["location"] == "/"


def test_the_layout_has_landmarks_navigation_a_skip_link_and_a_strict_content_security_policy(analyst, demo_server):
    response = analyst.goto("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    nav = analyst.get_by_role("navigation", name="Main")
    assert [a.inner_text() for a in nav.get_by_role("link").all()] == [
        "Queue", "Map", "Contribute", "Sources", "Search", "Account"]
    assert nav.get_by_role("link", name="Queue").get_attribute("aria-current") == "page"
    assert analyst.get_by_role("main").count() == 1 and analyst.get_by_role("banner").count() == 1
    analyst.keyboard.press("Tab")
    skip = analyst.locator(":focus")
    assert skip.inner_text() == "Skip to the main content"
    # every asset the page loads comes from this server
    for src in analyst.locator("script[src], link[href]").evaluate_all(
            "els => els.map(e => e.getAttribute('src') || e.getAttribute('href'))"):
        assert src.startswith("/static/"), src
        assert httpx.get(demo_server.url + src).status_code == 200


def test_the_queue_page_passes_axe_core_at_1366_by_768(analyst, axe, shot):
    analyst.goto("/")
    assert analyst.locator("#queue tbody tr").count() > 0, "the demo's alerts are listed"
    assert analyst.evaluate("() => document.documentElement.scrollWidth") <= 1366, "no sideways scrolling"
    axe(analyst, "queue")
    shot(analyst, "queue")


def test_logout_ends_the_session(new_page, demo_server):
    page = new_page("fr_analyst")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login\?error=ended$"))
    assert page.locator(".notice").inner_text() == "You have logged out."
    page.goto("/")
    assert "/login" in page.url
