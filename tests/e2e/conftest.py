"""Playwright driving Debian's Chromium against a live server. A missing browser fails the run."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop running in the test thread; the test's own ORM calls
# are still plain synchronous code, so Django's async-safety guard is relaxed for these tests.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"




@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium (make test does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield CspWatchingBrowser(b)
        b.close()


class CspWatchingBrowser:
    """The browser, whose every context reports Content-Security-Policy violations (Chromium
    logs each one to the console) to ``violations``; ``no_csp_violations`` fails a test that
    caused any."""

    def __init__(self, browser) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("console", self._console)
        return context

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def __getattr__(self, name: str):
        return getattr(self._browser, name)


@pytest.fixture(autouse=True)
def playwright_may_eval(settings, request):
    """Playwright's ``wait_for_function`` re-checks its predicate with ``eval`` in the page, which
    the Content-Security-Policy forbids: the flows' tests allow ``'unsafe-eval'`` (Quorum's own
    scripts never eval), so every other part of the policy still holds there. Tests marked
    ``real_csp`` run under the policy exactly as served."""
    if request.node.get_closest_marker("real_csp") is None:
        from csp.constants import UNSAFE_EVAL

        policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
        policy["DIRECTIVES"]["script-src"] = [*policy["DIRECTIVES"]["script-src"], UNSAFE_EVAL]
        settings.CONTENT_SECURITY_POLICY = policy


@pytest.fixture(autouse=True)
def no_csp_violations(browser):
    browser.violations.clear()
    yield
    assert browser.violations == [], "\n".join(browser.violations)


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def off_loop(fn, *args, **kwargs):
    """Run sync code that may call ``async_to_sync`` (broadcasts on commit) on a thread of its
    own: Playwright's sync API keeps an event loop running on the test's thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result()
