"""In Chromium: the reference page draws the API from the local Swagger UI under the
site's CSP, and an administrator issues a key on a phone-width screen."""

from __future__ import annotations

import os

import pytest

from tests.browser.fixtures import submit_login_form

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TONGXIN_SCREENSHOTS", "")


def test_it_draws_the_reference_page_without_csp_errors(page):
    from playwright.sync_api import expect

    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("requestfailed", lambda r: problems.append(r.url))
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/demands/{demand_id}")).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/api-docs.png", full_page=False)
    assert not [p for p in problems if "Content Security Policy" in p or "http" in p], problems


def test_it_issues_a_key_on_a_phone(page, browser_world):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 375, "height": 800})
    submit_login_form(page, "admin")
    page.goto("/api/tokens/new/")
    page.fill("#id_name", "12345热线")
    page.select_option("#id_kind", "integration")
    page.select_option("#id_user", str(browser_world.street_office.pk))
    page.get_by_role("button", name="创建并显示密钥").click()
    key = page.locator("#api-key").inner_text()
    assert len(key) > 30
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/api-key-created.png", full_page=True)
    page.get_by_role("link", name="我已保存，返回列表").click()
    expect(page.get_by_text("12345热线")).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/api-tokens.png", full_page=True)
    page.get_by_label("确认").check()
    page.get_by_role("button", name="吊销").click()
    expect(page.get_by_text("已吊销").first).to_be_visible()
