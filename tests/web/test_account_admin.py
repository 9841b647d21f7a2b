"""The account page (password change with the current password, own API tokens) and the admin pages
(organisations, users), in the browser; every form carries the session's CSRF token."""

from __future__ import annotations

import httpx

from biotracker.access import Role
from biotracker.server import accounts
from tests.server.conftest import NOW, PASSWORD
from tests.web.conftest import log_in

NEW_PASSWORD = "another long enough password"


def test_tokens_are_issued_once_listed_and_revoked(new_page, demo_server, axe, shot):
    page = new_page("fr_analyst")
    page.goto("/account")
    axe(page, "account")
    page.select_option("#t-scope", "read")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("bt_")
    shot(page, "account-token")
    me = httpx.get(f"{demo_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == "fr_analyst" and me.json()["scope"] == "read"
    page.goto("/account")
    assert secret not in page.content(), "the secret is shown once"
    live = [r.get_attribute("data-token-id") for r in page.locator("#tokens tbody tr").all() if r.locator("button").count()]
    token_id = live[-1]  # the newest (tokens are listed oldest first)
    page.locator(f"#tokens tr[data-token-id='{token_id}']").get_by_role("button").click()
    page.wait_for_url("**/account?done=revoked")
    assert "revoked" in page.locator(f"#tokens tr[data-token-id='{token_id}']").inner_text()
    gone = httpx.get(f"{demo_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401


def test_a_password_change_needs_the_current_password_and_ends_other_sessions(new_page, demo_server):
    with demo_server.engine.begin() as conn:
        accounts.add_user(conn, "fr_changer", "NCB-FR", Role.ANALYST, PASSWORD, NOW)
    page, elsewhere = new_page("fr_changer"), new_page("fr_changer")
    page.goto("/account")
    page.fill("#p-current", "not my password at all")
    page.fill("#p-new", NEW_PASSWORD)
    page.fill("#p-repeat", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    assert page.locator("#err-current").inner_text() == "the current password is wrong"
    page.fill("#p-current", PASSWORD)
    page.fill("#p-new", NEW_PASSWORD)
    page.fill("#p-repeat", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_url("**/account?done=password")
    elsewhere.goto("/account")
    assert "/login" in elsewhere.url, "the other session ended"
    fresh = new_page(None)
    log_in(fresh, demo_server.url, "fr_changer", NEW_PASSWORD)


def test_admins_add_organisations_and_users_and_disable_users(new_page, analyst, demo_server, axe, shot):
    admin = new_page("ip_admin")
    admin.goto("/admin/orgs")
    axe(admin, "admin-orgs")
    admin.fill("#o-name", "NCB-DE")
    admin.click("#org-form button[type=submit]")
    admin.wait_for_url("**/admin/orgs?done=org")
    assert "NCB-DE" in admin.locator("#orgs").inner_text()
    admin.fill("#o-name", "NCB-DE")
    admin.click("#org-form button[type=submit]")
    assert "already exists" in admin.locator("#err-name").inner_text()
    admin.goto("/admin/users")
    admin.fill("#u-name", "de_analyst")
    admin.select_option("#u-org", "NCB-DE")
    admin.select_option("#u-role", "analyst")
    admin.fill("#u-password", NEW_PASSWORD)
    admin.click("#user-form button[type=submit]")
    admin.wait_for_url("**/admin/users?done=user")
    assert "NCB-DE" in admin.locator("#users tr[data-username=de_analyst]").inner_text()
    axe(admin, "admin-users")
    shot(admin, "admin-users")
    newcomer = new_page(None)
    log_in(newcomer, demo_server.url, "de_analyst", NEW_PASSWORD)
    admin.locator("#users tr[data-username=de_analyst]").get_by_role("button", name="Disable de_analyst").click()
    admin.wait_for_url("**/admin/users?done=disabled")
    assert "disabled" in admin.locator("#users tr[data-username=de_analyst]").inner_text()
    newcomer.goto("/account")
    assert "/login" in newcomer.url, "a disabled user's session ends"
    for path in ("/admin/orgs", "/admin/users"):
        assert analyst.goto(path).status == 403
        assert "de_analyst" not in analyst.content()
