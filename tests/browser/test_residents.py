"""The resident register: finding people, seeing whole ID numbers, and what stays hidden."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tongxin.audit.models import AuditEntry
from tongxin.testing import ID_A1

pytestmark = pytest.mark.browser


def search(page, text: str) -> None:
    """Type into the search box and wait for htmx to bring the matching rows."""
    with page.expect_response(
        lambda r: (
            "/residents/?" in r.url
            and f"q={text}" in r.url
            and r.request.headers.get("hx-request") == "true"
        )
    ) as response:
        page.locator("#q").fill(text)
    assert response.value.status == 200
    expect(page).to_have_url(re.compile(rf"[?&]q={text}"))  # hx-push-url keeps it linkable


def test_search_by_pinyin_initials_updates_the_list_in_place(page, signed_in):
    signed_in("worker_a")
    # The top bar's link to the register ("居民" or "居民名册").
    page.locator("nav.navbar").get_by_role("link", name=re.compile(r"^居民")).click()
    expect(page.locator("h1")).to_have_text("居民名册")
    table = page.locator("#resident-table tbody")
    expect(table).to_contain_text("张三")
    expect(table).to_contain_text("李淑芬")
    expect(table).not_to_contain_text("王五")  # community B is not the worker's
    page.evaluate("window.__no_reload = true")

    search(page, "zs")
    expect(page.locator("#result-count")).to_contain_text("共 1 人")
    expect(table).to_contain_text("张三")
    expect(table).not_to_contain_text("李淑芬")

    search(page, "lsf")
    expect(page.locator("#result-count")).to_contain_text("共 1 人")
    expect(table).to_contain_text("李淑芬")
    expect(table).not_to_contain_text("张三")

    # The rows changed without the page being loaded again.
    assert page.evaluate("window.__no_reload") is True


def test_search_does_not_reach_another_community(page, signed_in):
    signed_in("worker_a")
    page.goto("/residents/")
    search(page, "ww")
    expect(page.locator("#result-count")).to_contain_text("共 0 人")
    expect(page.locator("#resident-table tbody")).to_contain_text("没有找到符合条件的居民")
    expect(page.get_by_text("王五")).to_have_count(0)


def test_seeing_the_whole_id_number_asks_first_and_is_audited(page, signed_in, browser_world):
    resident = browser_world.resident_a1
    signed_in("worker_a")
    page.goto("/residents/")
    page.get_by_role("link", name="张三", exact=True).click()
    expect(page.locator("h1")).to_have_text("张三")

    id_number = page.locator("#id-number")
    expect(id_number).not_to_have_text(ID_A1)
    expect(id_number).to_have_text(f"{ID_A1[:3]}{'*' * 11}{ID_A1[-4:]}")
    expect(page.get_by_text(ID_A1)).to_have_count(0)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.VIEW_PERSONAL_DATA).exists()

    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name="查看完整信息").click()

    expect(id_number).to_have_text(ID_A1)
    expect(page.locator("#phone")).to_have_text(resident.phone)
    expect(page.get_by_text("本次查看已记入审计日志")).to_be_visible()
    assert dialogs and "审计日志" in dialogs[0]
    entry = AuditEntry.objects.get(action=AuditEntry.Action.VIEW_PERSONAL_DATA)
    assert entry.user == browser_world.worker_a
    assert entry.target == f"people.resident:{resident.pk}"


def test_declining_the_question_shows_nothing_and_records_nothing(page, signed_in, browser_world):
    signed_in("worker_a")
    page.goto(f"/residents/{browser_world.resident_a1.pk}/")
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="查看完整信息").click()
    # The button stays (nothing was swapped in) and the number stays masked.
    expect(page.get_by_role("button", name="查看完整信息")).to_be_visible()
    expect(page.locator("#id-number")).not_to_have_text(ID_A1)
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.VIEW_PERSONAL_DATA).exists()


def test_guessing_the_url_of_a_resident_elsewhere_answers_not_found(page, signed_in, browser_world):
    signed_in("worker_a")
    response = page.goto(f"/residents/{browser_world.resident_b1.pk}/")
    assert response.status == 404
    expect(page.get_by_text("王五")).to_have_count(0)
    expect(page.get_by_text(browser_world.resident_b1.id_number)).to_have_count(0)
