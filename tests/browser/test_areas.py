"""The area tree and its responsible chains, as a community worker uses them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Responsibility
from tongxin.testing import make_user

pytestmark = pytest.mark.browser


def expand(page, name: str) -> None:
    """Click a node's "+" and wait for htmx to put its children in place."""
    node = (
        page.locator(".tx-tree li")
        .filter(has=page.get_by_role("link", name=name, exact=True))
        .first
    )
    with page.expect_response(re.compile(r"/areas/\d+/children/$")) as response:
        node.get_by_role("button", name=f"展开 {name}", exact=True).click()
    assert response.value.status == 200


def test_worker_browses_the_tree_down_to_a_grid_and_its_chain(page, signed_in):
    signed_in("worker_a")
    page.locator("nav.navbar").get_by_role("link", name=re.compile(r"^区域网格")).click()
    expect(page.locator("h1")).to_have_text("区域网格")
    tree = page.locator(".tx-tree")
    # Only the worker's own community is a root; nothing of the other one shows.
    expect(tree.get_by_role("link", name="仁和社区")).to_be_visible()
    expect(tree.get_by_text("宏丰社区")).to_have_count(0)
    expect(tree.get_by_role("link", name="仁和家园")).to_have_count(0)

    page.evaluate("window.__no_reload = true")
    expand(page, "仁和社区")
    expect(tree.get_by_role("link", name="仁和家园", exact=True)).to_be_visible()
    expand(page, "仁和家园")
    expect(tree.get_by_role("link", name="第一网格", exact=True)).to_be_visible()
    expand(page, "第一网格")
    expect(tree.get_by_role("link", name="1栋", exact=True)).to_be_visible()
    # Expanding happened in place (htmx), not by loading pages.
    assert page.evaluate("window.__no_reload") is True

    tree.get_by_role("link", name="第一网格", exact=True).click()
    expect(page.locator("h1")).to_have_text("第一网格")
    expect(page.locator(".breadcrumb")).to_contain_text("仁和社区")
    expect(page.locator("#responsible-now")).to_contain_text("当前负责人")
    expect(page.locator("#responsible-now strong")).to_have_text("网格员甲")
    chain = page.locator(".tx-chain li")
    expect(chain).to_have_count(1)
    expect(chain.first).to_contain_text("网格员甲")
    expect(chain.first).to_contain_text("当前负责")


def test_chain_skips_an_absent_person_and_takes_them_back(page, signed_in, browser_world):
    w = browser_world
    second_user = make_user("grid_a2", UserRole.GRID_WORKER, w.grid_a, "网格员乙")
    signed_in("worker_a")
    page.goto(f"/areas/{w.grid_a.pk}/")
    now = page.locator("#responsible-now strong")
    expect(now).to_have_text("网格员甲")

    # Add the second person through the page's own form.
    person = page.locator("#id_user")
    expect(person.locator("option", has_text="网格员乙")).to_have_count(1)
    expect(person.locator("option", has_text="网格员甲")).to_have_count(0)  # already in it
    person.select_option(value=str(second_user.pk))
    page.locator("#id_role").select_option(label="网格员")
    page.get_by_role("button", name="加入责任链").click()
    expect(page.get_by_role("alert")).to_contain_text("已加入责任链")
    chain = page.locator(".tx-chain li")
    expect(chain).to_have_count(2)
    expect(chain.nth(1)).to_contain_text("网格员乙")
    expect(now).to_have_text("网格员甲")  # the first one is there, so still in charge
    second = Responsibility.objects.get(area=w.grid_a, user__username="grid_a2")
    assert second.position == 2

    # The first goes on leave, from yesterday to next week.
    first_row = chain.filter(has_text="网格员甲")
    first_row.get_by_role("link", name="登记离岗").click()
    expect(page.locator("h1")).to_contain_text("登记离岗")
    today = timezone.localdate()
    page.fill("#id_absent_from", (today - dt.timedelta(days=1)).isoformat())
    page.fill("#id_absent_until", (today + dt.timedelta(days=7)).isoformat())
    page.fill("#id_absence_reason", "病假")
    page.get_by_role("button", name="保存").click()

    expect(page).to_have_url(re.compile(rf"/areas/{w.grid_a.pk}/$"))
    expect(page.get_by_role("alert")).to_contain_text("已登记 网格员甲 离岗")
    expect(now).to_have_text("网格员乙")
    away = first_row.locator(".badge").filter(has_text=re.compile(r"^\s*离岗"))
    expect(away).to_be_visible()
    expect(away).to_contain_text("病假")
    expect(away).to_contain_text(f"至{today + dt.timedelta(days=7):%-m月%-d日}")
    expect(first_row).not_to_contain_text("当前负责")
    expect(chain.filter(has_text="网格员乙")).to_contain_text("当前负责")

    # Back at work: the first is in charge again.
    first_row.get_by_role("button", name="返岗").click()
    expect(page.get_by_role("alert")).to_contain_text("网格员甲 已返岗")
    expect(now).to_have_text("网格员甲")
    expect(away).to_have_count(0)
    expect(first_row).to_contain_text("当前负责")
    expect(first_row.get_by_role("button", name="返岗")).to_have_count(0)
