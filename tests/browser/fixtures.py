"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Run with ``pytest -m browser tests/browser``. Each test gets a fresh browser context
(cookies, storage) and a freshly built test world in a transactional database, because
the live server answers from another thread and must see committed rows.
"""

from __future__ import annotations

import os
import re

import pytest

# Playwright's sync API runs an event loop in the main thread; Django's async-safety
# check would otherwise refuse the ORM calls the tests make between page actions.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's default of 30 s hides a hang for a long time; pages here answer in well
# under a second, so 10 s is still generous on a slow CI runner.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        pw.stop()
        raise
    yield browser
    browser.close()
    pw.stop()


@pytest.fixture
def browser_world(transactional_db):
    """The shared test world, committed so the live server's thread sees it."""
    from tongxin.testing import build_world

    return build_world()


@pytest.fixture
def page(browser, live_server, browser_world):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 800}, base_url=live_server.url
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def submit_login_form(page, username: str, password: str | None = None):
    """Sign in through the real login form, as a person would; returns the response
    of the page the form leads to (the home page, the form again, or the lockout page)."""
    from tongxin.testing import PASSWORD

    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD if password is None else password)
    # The form's own button: the top bar's language switch is a submit button too.
    with page.expect_navigation() as navigation:
        page.locator("main form button[type=submit]").click()
    return navigation.value


@pytest.fixture
def signed_in(page):
    """``signed_in("worker_a")``: sign in with the test password and check it worked."""
    from playwright.sync_api import expect

    def _sign_in(username: str):
        submit_login_form(page, username)
        expect(page).not_to_have_url(re.compile(r"/login/"))
        expect(page.locator("h1")).to_contain_text("您好")
        return page

    return _sign_in


@pytest.fixture
def sign_in(page):
    """``sign_in("worker_a", "wrong")``: submit the login form; returns the response."""

    def _sign_in(username: str, password: str | None = None):
        return submit_login_form(page, username, password)

    return _sign_in
