"""The dispatch meeting in a real browser: an item's decision form is loaded when the
item is opened (htmx), filled in and sent, and the item shows the decision."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.fixtures import submit_login_form
from tongxin.demands.models import MeetingItem, State
from tongxin.demands.tests.test_meeting import t4_demand

pytestmark = pytest.mark.browser


def test_the_district_office_opens_an_item_and_decides_it(page, browser_world):
    world = browser_world
    demand = t4_demand(world.household_a1, escalated_at=timezone.now())
    submit_login_form(page, world.district_office.username)
    page.goto("/demands/meeting/")
    item = page.locator("article", has_text=demand.title)
    expect(item).to_be_visible()
    # Read before the click: the in-memory test database locks a table the server is
    # writing, and a read then fails at once instead of waiting.
    item_id = f"#item-{demand.meeting_items.get().pk}"
    assert item.locator("select").count() == 0  # the people are not on the page yet
    item.get_by_text("记录讨论并作出决定").click()
    assignee = item.locator("select")
    expect(assignee).to_be_visible()
    assignee.select_option(
        label=f"{world.worker_a.full_name}（社区工作者·{world.community_a.name}）"
    )
    item.get_by_label("决定").fill("由社区牵头，联系住建局年底前完成改造。")
    item.get_by_role("button", name="作出决定并交办").click()
    expect(page.locator(item_id)).to_contain_text("已记录调度会决定，并通知责任人。")
    expect(page.locator("#agenda-count")).to_contain_text("待决定 0 项")
    decided = MeetingItem.objects.get(demand=demand)
    demand.refresh_from_db()
    assert decided.assignee == world.worker_a and demand.state == State.DISPATCHED
