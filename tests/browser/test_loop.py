"""The whole loop, as three people do it in three browsers: a resident reports a problem
from the community's page (群众点单), a community worker sends it to the party-member
pool (社区派单), a party member claims it on a phone and resolves it (党员接单, 办结),
and the resident reads the answer by the tracking code and rates it — which the
figures then count."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.fixtures import TIMEOUT_MS, submit_login_form
from tongxin.demands import metrics
from tongxin.demands.models import Demand, EventKind, Satisfaction, State
from tongxin.demands.testing import ensure_categories

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
TITLE = "2栋门口垃圾桶满了没人清"
ANSWER = "已联系保洁公司清运，并增加每日清运一次。"


@pytest.fixture
def person(browser, live_server, browser_world):
    """``person(viewport)``: a fresh browser of its own (cookies and all) for each of the
    people in the story; all are closed at the end."""
    contexts = []
    expect.set_options(timeout=TIMEOUT_MS)

    def _open(viewport: dict):
        context = browser.new_context(locale="zh-CN", viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # data-confirm asks; they agree
        return page

    yield _open
    for context in contexts:
        context.close()


def sign_in(page, username: str) -> None:
    submit_login_form(page, username)
    expect(page.locator("h1")).to_contain_text("您好")


def figures(world):
    return metrics.figures(Demand.objects.filter(community=world.community_a))


def test_a_report_goes_round_the_whole_loop(person, browser_world):
    world = browser_world
    ensure_categories()  # an earlier transactional test flushed the migration's rows
    before = figures(world)
    assert (before.collected, before.resolved, before.ratings) == (0, 0, 0)

    # 群众点单: a resident on a phone, from the community's QR code, without signing in.
    resident = person(PHONE)
    resident.goto(f"/report/{world.community_a.pk}/")
    resident.get_by_label("问题类别").select_option(label="环境卫生")
    resident.get_by_label("标题").fill(TITLE)
    resident.get_by_label("详细描述").fill("垃圾桶满了两天，味道很大。")
    resident.get_by_label("地点描述").fill("仁和家园2栋门口")
    resident.get_by_label("您的姓名").fill("李淑芬")
    resident.get_by_label("联系电话").fill("13900005678")
    resident.locator("#report-form button[type=submit]").click()
    expect(resident.locator("#tracking-code")).to_be_visible()
    code = re.sub(r"\W", "", resident.locator("#tracking-code").inner_text())
    demand = Demand.objects.get(tracking_code=code)
    assert demand.state == State.SUBMITTED and demand.community == world.community_a

    # 社区派单: the community worker finds it waiting and sends it to the pool.
    worker = person(DESKTOP)
    sign_in(worker, "worker_a")
    # Told by the job queued with the demand (run at once here; by the worker in service).
    worker.goto(reverse("demands:inbox"))
    expect(worker.locator("main")).to_contain_text(f"新诉求待派单：{TITLE}")
    worker.locator("nav.navbar").get_by_role("link", name="诉求", exact=True).click()
    expect(worker.locator("a.nav-link.active[data-tab=dispatch]")).to_contain_text("1")
    worker.locator("#work-table").get_by_role("link", name=TITLE).click()
    expect(worker.locator("h1")).to_have_text(TITLE)
    expect(worker.locator("#phone")).to_contain_text("139****5678")  # masked until asked
    worker.get_by_role("button", name="派到党员认领池").click()
    expect(worker.locator(".tx-messages")).to_contain_text("已派到党员认领池")
    expect(worker.locator("#history")).to_contain_text("社区已派单（党员认领池）")

    # 党员接单: a party member on a phone sees it in the pool and takes it.
    member = person(PHONE)
    sign_in(member, "party_a")
    member.goto("/demands/claim/")
    card = member.locator("article", has_text=TITLE)
    expect(card).to_be_visible()
    card.get_by_role("button", name="接单").click()
    expect(member.locator(".tx-messages")).to_contain_text("接单成功")
    expect(member.locator("h1")).to_have_text(TITLE)

    # 办结: the member writes the answer the resident will read.
    member.locator("summary", has_text="办结").click()
    member.get_by_label("给反映人的答复").fill(ANSWER)
    member.get_by_role("button", name="办结并答复").click()
    expect(member.locator(".tx-messages")).to_contain_text("已办结")
    expect(member.locator("#history")).to_contain_text(ANSWER)

    # 评价: the resident opens the tracking page by the code, reads the answer, rates it.
    resident.goto(f"/track/{code}/")
    expect(resident.locator("#answer")).to_contain_text(ANSWER)
    resident.locator("#rate").get_by_label("满意", exact=True).check()
    resident.locator("#rate").get_by_role("button", name="提交评价").click()
    expect(resident.locator("#rated")).to_contain_text("满意")

    demand.refresh_from_db()
    assert demand.state == State.RESOLVED and demand.handler == world.party_member_a
    assert demand.resident_rating == Satisfaction.SATISFIED and demand.public_answer == ANSWER
    kinds = list(demand.events.filter(public=True).values_list("kind", flat=True))
    assert kinds == [
        EventKind.SUBMITTED,
        EventKind.DISPATCHED,
        EventKind.CLAIMED,
        EventKind.RESOLVED,
        EventKind.RATED,
    ]

    after = figures(world)
    assert (after.collected, after.resolved, after.resolved_on_time) == (1, 1, 1)
    assert (after.ratings, after.ratings_satisfied) == (1, 1)
    assert after.resolution_rate.percent() == 100 and after.rating_rate.percent() == 100
