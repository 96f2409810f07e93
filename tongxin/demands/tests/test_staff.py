"""The staff side of the loop: the work list, the demand page and its steps, the
party members' pool and the inbox — each rule tried from every side."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Responsibility, Role
from tongxin.audit.models import AuditEntry
from tongxin.demands import actions
from tongxin.demands.models import (
    Attachment,
    Demand,
    Department,
    EventKind,
    Notification,
    Satisfaction,
    State,
)
from tongxin.demands.testing import submit
from tongxin.demands.views_staff import access_demand
from tongxin.people.models import CoBuildingUnit
from tongxin.testing import make_user

SH = ZoneInfo("Asia/Shanghai")
ROLES = [
    "admin",
    "district_office",
    "street_office",
    "worker_a",
    "worker_b",
    "grid_worker_a",
    "cadre_a",
    "party_member_a",
    "resident_user_a",
]


@pytest.fixture
def demand(world):
    return submit(
        world.household_a1,
        reporter=world.resident_a1,
        reporter_name="张三",
        reporter_phone="13800001234",
    )


@pytest.fixture
def pool_order(world, demand):
    return actions.dispatch_demand(demand, by=world.worker_a, to_pool=True)


@pytest.fixture
def claimed(world, pool_order):
    return actions.claim_demand(pool_order, by=world.party_member_a)


def rights_of(user, demand) -> str:
    try:
        _d, rights = access_demand(user, demand.pk)
    except Http404:
        return "404"
    except PermissionDenied:
        return "403"
    return " ".join(k for k in ("dispatch", "handle", "claim") if getattr(rights, k)) or "view"


def step(client, d, name, **fields):
    """POST one step's form as the page sends it: prefixed fields and the page's ``seen``."""
    data = {f"{name}-seen": actions.last_event_id(d)}
    data.update({f"{name}-{k}": v for k, v in fields.items()})
    return client.post(reverse(f"demands:{name}", args=[d.pk]), data)


def text(response) -> str:
    return response.content.decode()


def fresh(d) -> Demand:
    return Demand.objects.get(pk=d.pk)


def messages_of(client, response) -> str:
    return text(client.get(response["Location"]))


# --- the access helper, from all sides --------------------------------------------------
NEW = {
    "admin": "dispatch handle",
    "district_office": "dispatch handle",
    "street_office": "dispatch handle",
    "worker_a": "dispatch handle",
    "worker_b": "404",
    "grid_worker_a": "dispatch handle",
    "cadre_a": "view",
    "party_member_a": "404",
    "resident_user_a": "403",
}
IN_POOL = {**NEW, "party_member_a": "claim"}
CLAIMED = {**NEW, "party_member_a": "handle"}


@pytest.mark.parametrize("who", ROLES)
def test_it_decides_who_may_do_what_on_a_new_demand(world, demand, who):
    assert rights_of(world.users()[who], demand) == NEW[who]


@pytest.mark.parametrize("who", ROLES)
def test_it_lets_only_party_members_claim_from_the_pool(world, pool_order, who):
    assert rights_of(world.users()[who], pool_order) == IN_POOL[who]


@pytest.mark.parametrize("who", ROLES)
def test_it_lets_the_handler_handle_but_not_dispatch(world, claimed, who):
    assert rights_of(world.users()[who], claimed) == CLAIMED[who]


def test_it_lets_an_assigned_worker_accept(world, demand):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    assert rights_of(world.grid_worker_a, demand) == "dispatch handle claim"
    assert rights_of(world.worker_a, demand) == "dispatch handle"


def test_it_keeps_the_other_community_out(world):
    d = submit(world.household_b1)
    assert rights_of(world.worker_b, d) == "dispatch handle"
    for who in ("worker_a", "grid_worker_a", "cadre_a", "party_member_a"):
        assert rights_of(world.users()[who], d) == "404"
    assert rights_of(world.street_office, d) == "dispatch handle"


@pytest.mark.parametrize("who", ROLES)
def test_it_answers_pages_and_steps_by_the_same_rule(client, world, demand, who):
    client.force_login(world.users()[who])
    expected = NEW[who]
    page = client.get(reverse("demands:detail", args=[demand.pk]))
    r = step(client, demand, "dispatch", target="pool")
    if expected in ("404", "403"):
        assert page.status_code == r.status_code == int(expected)
    elif expected == "view":
        assert page.status_code == 200 and r.status_code == 403
        assert 'id="no-steps"' in text(page) and "dispatch-form" not in text(page)
    else:
        assert page.status_code == 200 and r.status_code == 302
    assert (fresh(demand).state == State.DISPATCHED) == ("dispatch" in expected)


# --- 我的工作 ---------------------------------------------------------------------------
def tabs(client) -> dict[str, int]:
    r = client.get(reverse("demands:work"))
    assert r.status_code == 200
    return {s.key: n for s, n in r.context["sections"]}


def test_it_gives_each_role_its_tabs(client, world, demand):
    client.force_login(world.worker_a)
    assert tabs(client) == {"dispatch": 1, "mine": 0, "warning": 0, "overdue": 0, "visit": 0}
    client.force_login(world.worker_b)
    assert tabs(client)["dispatch"] == 0
    client.force_login(world.cadre_a)
    assert set(tabs(client)) == {"mine", "warning", "overdue"}
    actions.dispatch_demand(demand, by=world.worker_a, to_pool=True)
    client.force_login(world.party_member_a)
    assert tabs(client) == {"mine": 0, "pool": 1, "warning": 0, "overdue": 0}
    client.force_login(world.resident_user_a)
    assert client.get(reverse("demands:work")).status_code == 403


def test_it_opens_the_first_tab_with_work_and_shows_the_row(client, world, demand):
    client.force_login(world.worker_a)
    r = client.get(reverse("demands:work"))
    assert r.context["current"].key == "dispatch"
    body = text(r)
    for part in (
        demand.number,
        demand.title,
        "环境卫生",
        "仁和社区",
        "1单元101室",
        "网页/扫码",
        "未派单",
        "T1",
    ):
        assert part in body


def test_it_says_what_will_appear_in_an_empty_tab(client, world):
    client.force_login(world.worker_a)
    body = text(client.get(reverse("demands:work"), {"tab": "visit"}))
    assert "等待回访" in body


def test_it_swaps_only_the_tabs_for_htmx(client, world, demand):
    client.force_login(world.worker_a)
    r = client.get(
        reverse("demands:work"), {"tab": "mine"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="work"
    )
    assert "<html" not in text(r) and 'id="work"' in text(r)
    assert demand.title not in text(r)


def test_it_lights_yellow_then_red_as_the_deadline_nears(client, world):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday; 3 working days
    with time_machine.travel(start, tick=False):
        d = submit(world.household_a1, now=start)
    with time_machine.travel(d.warn_at + dt.timedelta(minutes=1), tick=False):
        client.force_login(world.worker_a)
        counts = tabs(client)
        assert counts["warning"] == 1 and counts["overdue"] == 0
        r = client.get(reverse("demands:work"), {"tab": "warning"})
        assert "table-warning" in text(r) and "预警" in text(r)
    with time_machine.travel(d.deadline + dt.timedelta(minutes=1), tick=False):
        client.force_login(world.worker_a)
        counts = tabs(client)
        assert counts["warning"] == 0 and counts["overdue"] == 1
        r = client.get(reverse("demands:work"), {"tab": "overdue"})
        assert "table-danger" in text(r) and "已超期" in text(r)


def test_it_lists_mine_and_waiting_for_a_return_visit(client, world, demand):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    client.force_login(world.grid_worker_a)
    assert tabs(client)["mine"] == 1
    actions.resolve_demand(demand, by=world.grid_worker_a, answer="已清理。")
    assert tabs(client)["mine"] == 0
    client.force_login(world.worker_a)
    assert tabs(client)["visit"] == 1


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_it_needs_the_same_queries_for_3_or_33_demands(
    client, world, django_assert_max_num_queries
):
    unit = CoBuildingUnit.objects.create(name="区供电局")
    dept = Department.objects.create(name="区住建局")

    def some(n):
        for i in range(n):
            d = submit(world.household_a1, title=f"诉求{i}")
            target = [
                {"to_user": world.grid_worker_a},
                {"to_unit": unit},
                {"to_department": dept},
                {"to_pool": True},
            ][i % 4]
            actions.dispatch_demand(d, by=world.worker_a, **target)
            submit(world.household_a2, title=f"待派{i}")

    client.force_login(world.worker_a)
    some(3)
    url = reverse("demands:work") + "?tab=dispatch"
    few = count_queries(client, url)
    few_all = count_queries(client, reverse("demands:work") + "?tab=overdue")
    some(30)
    assert count_queries(client, url) == few
    assert count_queries(client, reverse("demands:work") + "?tab=overdue") == few_all
    with django_assert_max_num_queries(15):
        client.get(url)


# --- the demand page --------------------------------------------------------------------
def test_it_shows_the_demand_with_the_reporter_masked(client, world, demand):
    client.force_login(world.worker_a)
    body = text(client.get(reverse("demands:detail", args=[demand.pk])))
    assert "张*" in body and "138****1234" in body
    assert "13800001234" not in body and "张三" not in body.split("<main")[1]
    assert "<progress" in body and "查看完整电话" in body
    assert "内部" in body and "公开" in body  # the history marks both kinds


def test_it_reveals_the_phone_to_dispatchers_and_logs_it(client, world, demand):
    client.force_login(world.worker_a)
    r = client.post(reverse("demands:reveal", args=[demand.pk]), HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "13800001234" in text(r) and "<html" not in text(r)
    entry = AuditEntry.objects.get()
    assert entry.user == world.worker_a and entry.action == AuditEntry.Action.VIEW_PERSONAL_DATA
    assert entry.target == f"demands.demand:{demand.pk}" and entry.detail == "反映人电话"


@pytest.mark.parametrize(
    "who,status",
    [("cadre_a", 403), ("resident_user_a", 403), ("worker_b", 404), ("party_member_a", 404)],
)
def test_it_keeps_the_phone_from_others(client, world, demand, who, status):
    client.force_login(world.users()[who])
    assert client.post(reverse("demands:reveal", args=[demand.pk])).status_code == status
    assert not AuditEntry.objects.exists()


def test_it_hides_the_reveal_from_a_handler_who_does_not_dispatch(client, world, claimed):
    client.force_login(world.party_member_a)
    body = text(client.get(reverse("demands:detail", args=[claimed.pk])))
    assert "138****1234" in body and "查看完整电话" not in body
    assert client.post(reverse("demands:reveal", args=[claimed.pk])).status_code == 403


def test_it_shows_the_share_of_working_time_used(client, world):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with time_machine.travel(start, tick=False):
        d = submit(world.household_a1, now=start)
    # Monday 09:00 + 3 working days runs to Thursday 17:30: 6.5 + 7 + 7 + 7 = 27.5 hours.
    # By Tuesday noon 6.5 + 3.5 = 10 of them are gone: 36%.
    with time_machine.travel(dt.datetime(2026, 11, 24, 12, 0, tzinfo=SH), tick=False):
        client.force_login(world.worker_a)
        body = text(client.get(reverse("demands:detail", args=[d.pk])))
    assert "已用工作时间 36%" in body and 'value="0.364"' in body


# --- 派单 ------------------------------------------------------------------------------
def test_it_suggests_handlers_with_why_and_load(client, world, demand):
    client.force_login(world.worker_a)
    body = text(client.get(reverse("demands:detail", args=[demand.pk])))
    assert "推荐承办人" in body and "网格员甲（第一网格·网格员，在办 0 件）" in body
    assert "社区其他人员" in body and "党员甲（党员）" in body
    assert "社工乙" not in body  # another community's worker


def test_it_dispatches_to_the_pool(client, world, demand):
    client.force_login(world.worker_a)
    r = step(client, demand, "dispatch", target="pool", note="请党员就近处理")
    assert r.status_code == 302 and r["Location"] == reverse("demands:detail", args=[demand.pk])
    d = fresh(demand)
    assert d.state == State.DISPATCHED and d.pool and d.handler is None
    assert "已派到党员认领池" in messages_of(client, r)


def test_it_dispatches_to_a_person_and_tells_them(client, world, demand):
    client.force_login(world.worker_a)
    step(client, demand, "dispatch", target="user", user=world.grid_worker_a.pk)
    d = fresh(demand)
    assert d.handler == world.grid_worker_a and d.state == State.DISPATCHED
    assert Notification.objects.filter(user=world.grid_worker_a, demand=d).exists()


def test_it_dispatches_to_a_paired_unit_or_a_department(client, world, demand):
    unit = CoBuildingUnit.objects.create(name="区供电局")
    unit.communities.add(world.community_a)
    dept = Department.objects.create(name="区住建局", area=world.district)
    client.force_login(world.worker_a)
    body = text(client.get(reverse("demands:detail", args=[demand.pk])))
    assert "区供电局" in body and "区住建局" in body
    step(client, demand, "dispatch", target="unit", unit=unit.pk)
    assert fresh(demand).handler_unit == unit and fresh(demand).state == State.ACCEPTED
    other = submit(world.household_a1)
    step(client, other, "dispatch", target="department", department=dept.pk)
    assert fresh(other).department == dept


@pytest.mark.parametrize(
    "fields,error",
    [
        ({"target": "user"}, "请选择承办人。"),
        ({"target": "unit"}, "请选择共建单位。"),
        ({"target": "department"}, "请选择职能部门。"),
        ({}, "请选择派单对象。"),
        ({"target": "somewhere"}, "请选择派单对象。"),
        ({"target": "user", "user": "999999"}, "选择一个有效的选项"),
    ],
)
def test_it_refuses_an_incomplete_dispatch(client, world, demand, fields, error):
    client.force_login(world.worker_a)
    r = step(client, demand, "dispatch", **fields)
    assert r.status_code == 400 and error in text(r)
    assert fresh(demand).state == State.SUBMITTED and demand.events.count() == 1


def test_it_refuses_a_person_or_unit_of_another_community(client, world, demand):
    unit = CoBuildingUnit.objects.create(name="宏丰物业")
    unit.communities.add(world.community_b)
    client.force_login(world.worker_a)
    assert (
        step(client, demand, "dispatch", target="user", user=world.worker_b.pk).status_code == 400
    )
    assert step(client, demand, "dispatch", target="unit", unit=unit.pk).status_code == 400
    assert fresh(demand).state == State.SUBMITTED


def test_it_dispatches_once_when_the_form_is_sent_twice(client, world, demand):
    client.force_login(world.worker_a)
    seen = actions.last_event_id(demand)
    data = {
        "dispatch-seen": seen,
        "dispatch-target": "user",
        "dispatch-user": world.grid_worker_a.pk,
    }
    url = reverse("demands:dispatch", args=[demand.pk])
    client.post(url, data)
    r = client.post(url, data)
    assert "刚有新的进展" in messages_of(client, r)
    assert demand.events.filter(kind=EventKind.DISPATCHED).count() == 2  # internal + public
    assert Notification.objects.filter(user=world.grid_worker_a).count() == 1


def test_it_refuses_a_step_without_the_page_it_came_from(client, world, demand):
    client.force_login(world.worker_a)
    url = reverse("demands:dispatch", args=[demand.pk])
    r = client.post(url, {"dispatch-target": "pool"})
    assert "刚有新的进展" in messages_of(client, r)
    assert fresh(demand).state == State.SUBMITTED


# --- 接单 ------------------------------------------------------------------------------
def test_it_shows_the_pool_only_to_party_members(client, world, pool_order):
    client.force_login(world.party_member_a)
    r = client.get(reverse("demands:claim"))
    assert r.status_code == 200 and pool_order.title in text(r) and "接单" in text(r)
    for who in ("worker_a", "cadre_a", "resident_user_a", "admin"):
        client.force_login(world.users()[who])
        assert client.get(reverse("demands:claim")).status_code == 403


def test_it_refreshes_the_pool_as_a_partial(client, world, pool_order):
    client.force_login(world.party_member_a)
    r = client.get(reverse("demands:claim"), HTTP_HX_REQUEST="true")
    assert "<html" not in text(r) and 'hx-trigger="every 30s"' in text(r)
    actions.claim_demand(pool_order, by=world.party_member_a)
    r = client.get(reverse("demands:claim"), HTTP_HX_REQUEST="true")
    assert pool_order.title not in text(r) and "现在没有待认领的诉求" in text(r)


def test_the_pool_needs_the_same_queries_for_2_or_22_orders(client, world):
    def some(n):
        for i in range(n):
            actions.dispatch_demand(
                submit(world.household_a1, title=f"单{i}"), by=world.worker_a, to_pool=True
            )

    client.force_login(world.party_member_a)
    some(2)
    few = count_queries(client, reverse("demands:claim"))
    some(20)
    assert count_queries(client, reverse("demands:claim")) == few


def test_it_claims_and_a_second_click_changes_nothing(client, world, pool_order):
    client.force_login(world.party_member_a)
    url = reverse("demands:accept", args=[pool_order.pk])
    r = client.post(url)
    assert r["Location"] == reverse("demands:detail", args=[pool_order.pk])
    assert "接单成功" in messages_of(client, r)
    r = client.post(url)
    assert "您已接下此单" in messages_of(client, r)
    assert pool_order.events.filter(kind=EventKind.CLAIMED).count() == 1


def test_it_tells_the_slower_member_that_somebody_else_claimed_it(client, world, pool_order):
    other = make_user("pm2", UserRole.PARTY_MEMBER, world.community_a, "党员乙")
    actions.claim_demand(pool_order, by=other)
    client.force_login(world.party_member_a)
    r = client.post(reverse("demands:accept", args=[pool_order.pk]))
    assert r.status_code == 302 and r["Location"] == reverse("demands:claim")
    assert "该诉求已被他人接单" in messages_of(client, r)
    assert fresh(pool_order).handler == other


def test_it_tells_the_loser_of_a_race_after_the_page_let_them_in(
    client, world, pool_order, monkeypatch
):
    """Both passed the access check; the conditional UPDATE picked the other one."""
    other = make_user("pm2", UserRole.PARTY_MEMBER, world.community_a, "党员乙")
    real = actions.claim_demand

    def slower(demand, *, by):
        real(demand, by=other)
        return real(demand, by=by)

    monkeypatch.setattr(actions, "claim_demand", slower)
    client.force_login(world.party_member_a)
    r = client.post(reverse("demands:accept", args=[pool_order.pk]))
    assert r["Location"] == reverse("demands:claim")
    assert "该诉求已被他人接单" in messages_of(client, r)


@pytest.mark.parametrize(
    "who,status", [("worker_a", 403), ("cadre_a", 403), ("resident_user_a", 403), ("worker_b", 404)]
)
def test_it_refuses_claims_from_outside_the_pool(client, world, pool_order, who, status):
    client.force_login(world.users()[who])
    assert client.post(reverse("demands:accept", args=[pool_order.pk])).status_code == status
    assert fresh(pool_order).handler is None


def test_it_lets_the_assignee_accept(client, world, demand):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    client.force_login(world.grid_worker_a)
    body = text(client.get(reverse("demands:detail", args=[demand.pk])))
    assert reverse("demands:accept", args=[demand.pk]) in body
    client.post(reverse("demands:accept", args=[demand.pk]))
    assert fresh(demand).state == State.ACCEPTED


# --- 办理 ------------------------------------------------------------------------------
def jpeg() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    return SimpleUploadedFile("现场.jpg", out.getvalue(), content_type="image/jpeg")


def test_it_starts_notes_and_resolves(client, world, claimed):
    client.force_login(world.party_member_a)
    step(client, claimed, "start")
    assert fresh(claimed).state == State.IN_PROGRESS
    step(client, claimed, "note", text="已联系物业，明天清理。")
    note = claimed.events.get(kind=EventKind.NOTE)
    assert not note.public
    r = client.post(
        reverse("demands:note", args=[claimed.pk]),
        {
            "note-seen": actions.last_event_id(claimed),
            "note-text": "物业已开始清理。",
            "note-public": "on",
            "note-photos": [jpeg()],
        },
    )
    assert r.status_code == 302
    answer = claimed.events.get(kind=EventKind.ANSWER)
    assert answer.public and answer.attachments.count() == 1
    photo = reverse("demands:photo", args=[answer.attachments.get().pk])
    assert f'src="{photo}"' in text(client.get(reverse("demands:detail", args=[claimed.pk])))
    r = step(client, claimed, "resolve", answer="楼道纸箱已清理完毕。")
    d = fresh(claimed)
    assert d.state == State.RESOLVED and d.public_answer == "楼道纸箱已清理完毕。"
    assert "已办结" in messages_of(client, r)


def test_it_refuses_a_bad_photo_and_keeps_nothing(client, world, claimed):
    client.force_login(world.party_member_a)
    bogus = SimpleUploadedFile("a.jpg", b"not an image", content_type="image/jpeg")
    r = client.post(
        reverse("demands:note", args=[claimed.pk]),
        {
            "note-seen": actions.last_event_id(claimed),
            "note-text": "看图",
            "note-photos": [bogus],
        },
    )
    assert r.status_code == 400 and "不是有效的图片文件" in text(r)
    assert not Attachment.objects.exists() and not claimed.events.filter(kind=EventKind.NOTE)


@pytest.mark.parametrize(
    "name,fields,error",
    [
        ("resolve", {"answer": "   "}, "办结时必须填写给居民的答复。"),
        ("note", {"text": "  "}, "请填写办理情况。"),
        ("return", {"reason": ""}, "请说明原因。"),
        ("return", {"reason": "   "}, "请说明原因。"),
        ("transfer", {"reason": "换人"}, "请选择转办对象。"),
    ],
)
def test_it_refuses_empty_texts(client, world, claimed, name, fields, error):
    client.force_login(world.party_member_a)
    before = claimed.events.count()
    r = step(client, claimed, name, **fields)
    assert r.status_code == 400 and error in text(r)
    assert claimed.events.count() == before and fresh(claimed).state == State.ACCEPTED


def test_it_returns_and_sends_the_handler_back_to_the_list(client, world, claimed):
    client.force_login(world.party_member_a)
    r = step(client, claimed, "return", reason="不在本人能力范围")
    assert r["Location"] == reverse("demands:work")  # it has left their sight
    d = fresh(claimed)
    assert d.state == State.RETURNED and d.handler is None


def test_it_transfers_to_someone_of_the_community(client, world, claimed):
    client.force_login(world.party_member_a)
    step(client, claimed, "transfer", to_user=world.grid_worker_a.pk, reason="网格员更熟悉")
    d = fresh(claimed)
    assert d.handler == world.grid_worker_a and d.state == State.DISPATCHED
    assert step(client, d, "transfer", to_user=world.worker_b.pk, reason="x").status_code == 404


def test_it_refuses_a_transfer_outside_the_community(client, world, claimed):
    client.force_login(world.worker_a)
    r = step(client, claimed, "transfer", to_user=world.worker_b.pk, reason="x")
    assert r.status_code == 400 and "只能转办给本社区的人员。" in text(r)
    assert fresh(claimed).handler == world.party_member_a


@pytest.mark.parametrize(
    "who,status", [("cadre_a", 403), ("resident_user_a", 403), ("worker_b", 404)]
)
@pytest.mark.parametrize("name", ["start", "note", "resolve", "return", "transfer"])
def test_it_refuses_handling_steps_to_others(client, world, claimed, who, status, name):
    client.force_login(world.users()[who])
    fields = {"text": "x", "answer": "x", "reason": "x", "to_user": world.worker_a.pk}
    assert step(client, claimed, name, **fields).status_code == status
    assert fresh(claimed).state == State.ACCEPTED


@pytest.mark.parametrize("name", ["dispatch", "merge", "postpone", "visit"])
def test_it_keeps_dispatcher_steps_from_the_handler(client, world, claimed, name):
    client.force_login(world.party_member_a)
    assert (
        step(
            client, claimed, name, target="pool", into="1", reason="x", satisfaction="satisfied"
        ).status_code
        == 403
    )


def test_it_shows_an_action_error_and_changes_nothing(client, world, demand):
    """The step's own rules speak through a message: here the state moved on."""
    client.force_login(world.worker_a)
    seen = actions.last_event_id(demand)
    actions.withdraw_demand(demand, reason="已自行解决")
    # The withdrawal's event makes the page stale, so the guard answers first.
    r = client.post(
        reverse("demands:postpone", args=[demand.pk]),
        {"postpone-seen": seen, "postpone-reason": "等待资金"},
    )
    assert "刚有新的进展" in messages_of(client, r)
    # With the page up to date, the action itself refuses the withdrawn demand.
    r = step(client, demand, "postpone", reason="等待资金")
    assert "不能进行此操作" in messages_of(client, r)
    assert not fresh(demand).postponed


# --- 合并, 缓办, 回访 -----------------------------------------------------------------------
def test_it_merges_by_number_or_id(client, world, demand):
    main = submit(world.household_a2, title="楼道杂物")
    client.force_login(world.worker_a)
    r = step(client, demand, "merge", into=main.number)
    assert "已合并到诉求" in messages_of(client, r)
    d = fresh(demand)
    assert d.state == State.MERGED and d.merged_into == main
    dup = submit(world.household_a2)
    step(client, dup, "merge", into=str(main.pk))
    assert fresh(dup).merged_into == main


@pytest.mark.parametrize(
    "into,error",
    [
        ("no-such", "找不到编号"),
        ("999999", "找不到编号"),
        ("1999-{pk}", "找不到编号"),
        ("{other}", "找不到编号"),
        ("{pk}", "不能把诉求合并到它自己"),
    ],
)
def test_it_refuses_a_bad_merge(client, world, demand, into, error):
    other = submit(world.household_b1)  # not in worker_a's community
    client.force_login(world.worker_a)
    r = step(client, demand, "merge", into=into.format(pk=demand.pk, other=other.pk))
    assert r.status_code == 400 and error in text(r)
    assert fresh(demand).state == State.SUBMITTED


def test_it_postpones_once(client, world, demand):
    client.force_login(world.worker_a)
    assert step(client, demand, "postpone", reason="").status_code == 400
    step(client, demand, "postpone", reason="需列入明年改造计划")
    assert fresh(demand).postponed
    body = text(client.get(reverse("demands:detail", args=[demand.pk])))
    assert "postpone-form" not in body and "缓办" in body


def test_it_resumes_a_postponed_demand(client, world, demand):
    client.force_login(world.worker_a)
    page = reverse("demands:detail", args=[demand.pk])
    r = client.get(page)
    assert "resume" not in r.context["forms"] and "resume-form" not in text(r)
    actions.postpone_demand(demand, by=world.worker_a, reason="需列入明年改造计划")
    r = client.get(page)
    assert "resume" in r.context["forms"] and "postpone" not in r.context["forms"]
    assert "resume-form" in text(r) and "postpone-form" not in text(r)

    r = step(client, demand, "resume", reason="")
    assert r.status_code == 400 and "resume-form" in text(r)
    assert fresh(demand).postponed
    r = step(client, demand, "resume", reason="改造计划已立项")
    assert r.status_code == 302 and r["Location"] == page
    d = fresh(demand)
    assert "已恢复办理，新的办理时限为" in messages_of(client, r)
    assert not d.postponed and d.deadline > dt.datetime.now(tz=SH)
    assert d.events.filter(kind=EventKind.RESUMED, text="改造计划已立项").count() == 1
    r = client.get(page)
    assert "postpone" in r.context["forms"] and "resume" not in r.context["forms"]
    history = text(r).split('id="history"')[1]
    assert "恢复办理" in history and "改造计划已立项" in history


@pytest.mark.parametrize(
    "who,status",
    [("party_member_a", 403), ("cadre_a", 403), ("resident_user_a", 403), ("worker_b", 404)],
)
def test_it_lets_only_those_who_may_postpone_resume(client, world, claimed, who, status):
    actions.postpone_demand(claimed, by=world.worker_a, reason="需列入明年改造计划")
    client.force_login(world.users()[who])
    if who == "party_member_a":  # the handler sees the page, without the step
        page = client.get(reverse("demands:detail", args=[claimed.pk]))
        assert "resume" not in page.context["forms"]
    assert step(client, claimed, "resume", reason="恢复").status_code == status
    assert fresh(claimed).postponed


def test_it_resumes_once_when_the_form_is_sent_twice(client, world, demand):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    actions.postpone_demand(demand, by=world.worker_a, reason="需列入明年改造计划")
    client.force_login(world.worker_a)
    data = {"resume-seen": actions.last_event_id(demand), "resume-reason": "改造计划已立项"}
    url = reverse("demands:resume", args=[demand.pk])
    client.post(url, data)
    deadline = fresh(demand).deadline
    r = client.post(url, data)
    assert "刚有新的进展" in messages_of(client, r)
    assert demand.events.filter(kind=EventKind.RESUMED).count() == 1
    assert fresh(demand).deadline == deadline
    told = Notification.objects.filter(user=world.grid_worker_a, text__contains="恢复办理")
    assert told.count() == 1


def resolved(world, demand):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    actions.claim_demand(demand, by=world.grid_worker_a)
    return actions.resolve_demand(demand, by=world.grid_worker_a, answer="已清理。")


def test_it_records_a_satisfied_return_visit(client, world, demand):
    d = resolved(world, demand)
    client.force_login(world.worker_a)
    assert step(client, d, "visit").status_code == 400  # no choice made
    r = step(client, d, "visit", satisfaction=Satisfaction.SATISFIED, comment="居民很满意")
    assert "诉求已结案" in messages_of(client, r)
    d = fresh(d)
    assert d.state == State.CLOSED and d.satisfaction == Satisfaction.SATISFIED


def test_it_reopens_on_a_dissatisfied_return_visit(client, world, demand):
    d = resolved(world, demand)
    client.force_login(world.worker_a)
    r = step(client, d, "visit", satisfaction=Satisfaction.DISSATISFIED, comment="还是很脏")
    assert "返工" in messages_of(client, r)
    d = fresh(d)
    assert d.state == State.ACCEPTED and d.rework_count == 1
    assert step(client, d, "visit", satisfaction="satisfied").status_code == 302
    assert fresh(d).state == State.ACCEPTED  # not offered now: the action refused it


def test_it_offers_only_the_steps_that_fit_the_state(client, world, demand):
    def offered(user, d):
        client.force_login(user)
        return set(client.get(reverse("demands:detail", args=[d.pk])).context["forms"])

    assert offered(world.worker_a, demand) == {"dispatch", "note", "merge", "postpone"}
    actions.dispatch_demand(demand, by=world.worker_a, to_pool=True)
    assert offered(world.party_member_a, demand) == set()
    actions.claim_demand(demand, by=world.party_member_a)
    assert offered(world.party_member_a, demand) == {
        "start",
        "resolve",
        "note",
        "transfer",
        "return",
    }
    assert offered(world.cadre_a, demand) == set()
    actions.resolve_demand(demand, by=world.party_member_a, answer="好了")
    assert offered(world.worker_a, demand) == {"visit", "note"}
    assert offered(world.party_member_a, demand) == {"note"}


# --- folded panels: drawn when opened --------------------------------------------------
def folded_url(page: str, name: str) -> str:
    import re

    match = re.search(r'<details[^>]*hx-get="([^"]*/step/' + name + r'/[^"]*)"', page)
    assert match, f"{name} is not folded"
    return match[1].replace("&amp;", "&")


def test_it_draws_a_folded_panel_when_it_is_opened(client, world, claimed):
    client.force_login(world.party_member_a)
    page = text(client.get(reverse("demands:detail", args=[claimed.pk])))
    # Handling (accepted): start is a button, the rest folded — their forms not drawn.
    assert 'id="transfer-form"' not in page and 'id="return-form"' not in page
    assert 'id="note-form"' not in page and 'id="resolve-form"' not in page
    url = folded_url(page, "transfer")
    assert url.endswith(f"?seen={actions.last_event_id(claimed)}")
    assert 'hx-trigger="toggle once"' in page and "?open=transfer#transfer-form" in page
    # Opened: the form alone, with the seen of the page it came from.
    panel = text(client.get(url))
    assert panel.startswith('<form method="post" action="/demands/') and "<html" not in panel
    assert f'name="transfer-seen" value="{actions.last_event_id(claimed)}"' in panel
    assert world.grid_worker_a.full_name in panel
    # Sent as drawn: the step is done.
    step(client, claimed, "transfer", to_user=world.grid_worker_a.pk, reason="网格员更熟悉")
    assert fresh(claimed).handler == world.grid_worker_a


def test_a_panel_opened_after_another_step_refuses_what_came_since(client, world, claimed):
    client.force_login(world.party_member_a)
    page = text(client.get(reverse("demands:detail", args=[claimed.pk])))
    url = folded_url(page, "return")
    actions.add_note(claimed, by=world.worker_a, text="已联系物业")  # meanwhile
    panel = text(client.get(url))
    seen = int(panel.split('name="return-seen" value="')[1].split('"')[0])
    r = client.post(
        reverse("demands:return", args=[claimed.pk]),
        {"return-seen": seen, "return-reason": "不归我管"},
    )
    assert r.status_code == 302 and fresh(claimed).state == State.ACCEPTED
    assert "刚有新的进展" in messages_of(client, r)


def test_without_script_the_link_draws_the_page_with_the_panel_open(client, world, claimed):
    client.force_login(world.party_member_a)
    page = text(client.get(reverse("demands:detail", args=[claimed.pk]) + "?open=transfer"))
    assert 'id="transfer-form"' in page and folded_url(page, "return")
    opened = page.split('id="transfer-form"')[0].rsplit("<details", 1)[1]
    assert " open" in opened.split(">")[0] and "hx-get" not in opened.split(">")[0]


def test_a_panel_no_longer_offered_says_so(client, world, claimed):
    client.force_login(world.party_member_a)
    page = text(client.get(reverse("demands:detail", args=[claimed.pk])))
    url = folded_url(page, "transfer")
    actions.resolve_demand(claimed, by=world.party_member_a, answer="好了")
    panel = text(client.get(url))
    assert "这项操作现在不可用" in panel and "<form" not in panel


@pytest.mark.parametrize(
    "who, name, status",
    [
        ("worker_b", "transfer", 404),  # another community's
        ("resident_user_a", "transfer", 403),
        ("party_member_a", "start", 404),  # a button, never folded
        ("party_member_a", "nonsense", 404),
    ],
)
def test_a_panel_answers_by_the_pages_rule(client, world, claimed, who, name, status):
    client.force_login(world.users()[who])
    url = reverse("demands:step_form", args=[claimed.pk, name])
    assert client.get(url).status_code == status


def staff_list(sql: str) -> bool:
    return 'FROM "accounts_user"' in sql and "LIKE" in sql


def test_the_folded_panels_cost_the_page_no_queries(client, world, claimed):
    # The people to transfer to are read only when that panel is opened.
    client.force_login(world.party_member_a)
    url = reverse("demands:detail", args=[claimed.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as page:
        client.get(url)
    assert not [q for q in page.captured_queries if staff_list(q["sql"])]
    with CaptureQueriesContext(connection) as panel:
        client.get(reverse("demands:step_form", args=[claimed.pk, "transfer"]))
    assert [q for q in panel.captured_queries if staff_list(q["sql"])]


# --- the inbox --------------------------------------------------------------------------
@pytest.fixture
def inbox(world, demand):
    sec = make_user("sec_a", UserRole.COMMUNITY_WORKER, world.community_a, "书记甲")
    Responsibility.objects.create(area=world.community_a, user=sec, role=Role.COMMUNITY_SECRETARY)
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    actions.return_demand(demand, by=world.grid_worker_a, reason="不归我管")
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    return world.grid_worker_a


def test_it_lists_messages_newest_first_with_unread_marked(client, world, inbox):
    client.force_login(inbox)
    r = client.get(reverse("demands:inbox"))
    notes = list(r.context["page"])
    assert len(notes) == 2 and notes[0].created_at >= notes[1].created_at
    body = text(r)
    assert body.count('data-unread="1"') == 2 and 'id="nav-unread">2<' in body


def test_it_marks_one_read_and_opens_its_demand(client, world, inbox, demand):
    client.force_login(inbox)
    note = Notification.objects.filter(user=inbox).first()
    r = client.post(reverse("demands:inbox_read", args=[note.pk]), {"open": "1"})
    assert r["Location"] == reverse("demands:detail", args=[demand.pk])
    note.refresh_from_db()
    assert note.read_at is not None
    assert 'id="nav-unread">1<' in text(client.get(reverse("demands:inbox")))


def test_it_marks_all_read_and_leaves_others_alone(client, world, inbox):
    theirs = Notification.objects.create(user=world.worker_a, text="别人的消息")
    client.force_login(inbox)
    client.post(reverse("demands:inbox_read", args=[theirs.pk]))
    theirs.refresh_from_db()
    assert theirs.read_at is None
    r = client.post(reverse("demands:inbox_read_all"), {"page": "1"})
    assert r["Location"] == reverse("demands:inbox") + "?page=1"
    assert not Notification.objects.filter(user=inbox, read_at__isnull=True).exists()
    assert theirs.read_at is None and 'id="nav-unread"' not in text(client.get(r["Location"]))


def test_it_says_what_will_arrive_in_an_empty_inbox(client, world):
    client.force_login(world.cadre_a)
    assert "还没有消息" in text(client.get(reverse("demands:inbox")))


def test_the_inbox_needs_the_same_queries_for_2_or_32_messages(client, world, inbox, demand):
    client.force_login(inbox)
    few = count_queries(client, reverse("demands:inbox"))
    for i in range(30):
        Notification.objects.create(user=inbox, demand=demand, text=f"消息{i}")
    assert count_queries(client, reverse("demands:inbox")) == few


def test_it_puts_the_work_in_the_top_bar(client, world):
    client.force_login(world.worker_a)
    body = text(client.get(reverse("home")))
    assert reverse("demands:work") in body and reverse("demands:inbox") in body
    client.force_login(world.party_member_a)
    assert reverse("demands:claim") in text(client.get(reverse("home")))
    client.force_login(world.resident_user_a)
    assert reverse("demands:inbox") not in text(client.get(reverse("home")))
