"""Browser tests of the workbench: one real server (uvicorn on a free 127.0.0.1 port over a private
copy of the demo store, with the PEOPLE community of tests/server) and one headless Debian chromium
per module, driven by Playwright. Nothing is downloaded: the browser is /usr/bin/chromium and axe-core
is vendored under tests/web/vendor/.

Screenshots and axe-core results are written under ``test-output/web/``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from biotracker.config import load_settings
from biotracker.db.engine import open_store
from biotracker.server import accounts
from biotracker.server.app import create_app
from tests.server.conftest import PASSWORD, LiveServer, free_port, populate

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "web"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The smallest screen the workbench supports.
VIEWPORT = {"width": 1366, "height": 768}
#: axe-core impacts that fail a page.
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def demo_server(demo_store, tmp_path_factory) -> Iterator[LiveServer]:
    """A server over a private SQLite copy of the demo's store, with the PEOPLE community, for one module."""
    from argon2 import PasswordHasher

    home = tmp_path_factory.mktemp("web-home")
    with sqlite3.connect(demo_store[0].home / "biotracker.db") as src, sqlite3.connect(home / "biotracker.db") as dst:
        src.backup(dst)
    shutil.copytree(demo_store[0].raw_dir, home / "raw")
    settings = load_settings({}, home=str(home), server_secret_key="web-test-secret", server_cookie_secure=False)
    with pytest.MonkeyPatch.context() as mp:
        # Argon2id at its smallest cost (the same code path; the machine is shared)
        mp.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        engine = open_store(settings)
        write, read = populate(engine)
        config = uvicorn.Config(create_app(settings, engine), host="127.0.0.1", port=free_port(),
                                log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield LiveServer(f"http://127.0.0.1:{config.port}", settings, engine, write, read)
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, without sandbox (containers), GPU or any call home."""
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def log_in(page: Page, base_url: str, user: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person would: the contract's fields, then the queue."""
    page.goto(f"{base_url}/login")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base_url}/")


@pytest.fixture(scope="module")
def new_page(browser, demo_server) -> Iterator[Callable[..., Page]]:
    """Call with a username (or None) for a fresh browser context's page, logged in through the form."""
    contexts = []

    def make(user: str | None = "nl_analyst") -> Page:
        context = browser.new_context(viewport=VIEWPORT, base_url=demo_server.url)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        if user:
            log_in(page, demo_server.url, user)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def analyst(new_page) -> Page:
    """A page logged in as the community's analyst (nl_analyst, NCB-NL), shared by the module's tests."""
    return new_page("nl_analyst")


def screenshot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot under test-output/web/ (the issue's closing note lists them)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def run_axe(page: Page, name: str) -> dict:
    """Run the vendored axe-core on the page as it is; write the results JSON; fail on serious or
    critical violations, naming each rule and the elements it found."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # DevTools evaluation: the page's CSP does not apply
    results = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations'], "
        "runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    summary = {
        "page": name,
        "url": page.url,
        "axe_version": results["testEngine"]["version"],
        "violations": [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in results["violations"]
        ],
        "passes": len(results.get("passes", [])),
    }
    (OUTPUT / f"axe-{name}.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    blocking = [v for v in summary["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core found serious/critical violations on {name}: {json.dumps(blocking, indent=1)}"
    return summary


@pytest.fixture
def axe() -> Callable[[Page, str], dict]:
    return run_axe


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    return screenshot



def tab_to(page: Page, selector: str, limit: int = 400) -> bool:
    """Press Tab from the top of the page until the focused element matches ``selector``: True when
    the keyboard alone reaches it."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator("body").focus()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => !!document.activeElement && document.activeElement.matches(sel)", selector):
            return True
    return False


def audit_rows(server: LiveServer, action: str) -> list[dict]:
    """The audit log's rows of ``action``, oldest first."""
    from sqlalchemy import select

    from biotracker.db.tables import audit_log

    with server.engine.connect() as conn:
        query = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.audit_id)
        return [dict(r) for r in conn.execute(query).mappings()]
