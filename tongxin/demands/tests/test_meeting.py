"""The T4 dispatch meeting (区一线办调度会): who sees the agenda, what is on it, and a
decision that becomes an assignment with a deadline."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Level, Responsibility, Role
from tongxin.demands import actions, views_meeting
from tongxin.demands.models import (
    Demand,
    DemandEvent,
    DispatchMeeting,
    EventKind,
    MeetingItem,
    Notification,
    State,
    Tier,
)
from tongxin.demands.testing import submit
from tongxin.testing import make_user

SH = ZoneInfo("Asia/Shanghai")
# A Monday in November 2026: the meeting of the 25th is ahead.
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=SH)


@pytest.fixture
def chains(world):
    sec = make_user("sec_a", UserRole.COMMUNITY_WORKER, world.community_a, "书记甲")
    Responsibility.objects.create(area=world.community_a, user=sec, role=Role.COMMUNITY_SECRETARY)
    Responsibility.objects.create(
        area=world.street, user=world.street_office, role=Role.STATION_CADRE
    )
    Responsibility.objects.create(
        area=world.district, user=world.district_office, role=Role.STATION_CADRE
    )
    return sec


@pytest.fixture
def now():
    with time_machine.travel(MONDAY, tick=False):
        yield MONDAY


def t4_demand(area, title="老旧小区雨污管网改造", escalated_at=MONDAY) -> Demand:
    """A demand the sweep has just moved up to T4 (it lands on the next 25th's agenda)."""
    d = submit(area, title=title, now=escalated_at - dt.timedelta(days=40))
    Demand.objects.filter(pk=d.pk).update(
        tier=Tier.COORDINATED, deadline=escalated_at - dt.timedelta(minutes=1)
    )
    assert actions.escalate_demand(d.pk, now=escalated_at)
    d.refresh_from_db()
    return d


def decide(client, item, **data):
    fields = {"minutes": "", "decision": "由区住建局牵头，年底前完成管网改造。", "due": ""}
    fields |= data
    return client.post(
        reverse("demands:meeting_decide", args=[item.pk]),
        {f"item{item.pk}-{k}": v for k, v in fields.items()},
    )


def meeting_events(demand) -> int:
    return DemandEvent.objects.filter(demand=demand, kind=EventKind.MEETING).count()


# --- who may come ---------------------------------------------------------------------
def test_it_is_for_the_district_office_the_street_office_and_admin_only(client, world, now):
    url = reverse("demands:meeting")
    assert client.get(url).status_code == 302  # to the sign-in page
    allowed = {"admin", "district_office", "street_office"}
    for name, user in world.users().items():
        client.force_login(user)
        assert client.get(url).status_code == (200 if name in allowed else 403), name


def test_the_street_office_sees_only_its_streets_items(client, world, chains, now):
    other_street = world.district.add_child(name="凤凰街", level=Level.STREET)
    other = other_street.add_child(name="凤凰社区", level=Level.COMMUNITY)
    ours = t4_demand(world.household_a1, title="仁和家园雨污管网改造")
    theirs = t4_demand(other, title="凤凰社区危房改造")
    client.force_login(world.street_office)
    body = client.get(reverse("demands:meeting")).content.decode()
    assert ours.title in body and theirs.title not in body
    client.force_login(world.district_office)
    body = client.get(reverse("demands:meeting")).content.decode()
    assert ours.title in body and theirs.title in body


def test_only_the_district_office_and_admin_decide(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.street_office)
    assert "记录讨论并作出决定" not in client.get(reverse("demands:meeting")).content.decode()
    due = (now + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    assert decide(client, item, assignee=chains.pk, due=due).status_code == 403
    client.force_login(world.worker_a)
    assert decide(client, item, assignee=chains.pk, due=due).status_code == 403
    assert meeting_events(d) == 0


# --- the agenda -----------------------------------------------------------------------
def test_the_agenda_is_the_next_25th_with_the_t4_demands(client, world, chains, now):
    d = t4_demand(world.household_a1)
    client.force_login(world.district_office)
    r = client.get(reverse("demands:meeting"))
    assert r.context["meeting"].date == dt.date(2026, 11, 25)
    assert [i.demand for i in r.context["items"]] == [d]
    body = r.content.decode()
    assert d.title in body and reverse("demands:detail", args=[d.pk]) in body
    assert "2026年11月25日" in body and "待召开" in body


def test_a_t4_demand_missing_from_the_agenda_is_added_when_the_page_opens(client, world, now):
    d = submit(world.household_a1, title="背街小巷路面塌陷")
    Demand.objects.filter(pk=d.pk).update(tier=Tier.DISPATCH_MEETING)  # no item yet
    resolved = submit(world.household_a2, title="已经办结的 T4 诉求")
    Demand.objects.filter(pk=resolved.pk).update(tier=Tier.DISPATCH_MEETING, state=State.RESOLVED)
    client.force_login(world.district_office)
    client.get(reverse("demands:meeting"))
    client.get(reverse("demands:meeting"))
    assert list(MeetingItem.objects.values_list("demand_id", "meeting__date")) == [
        (d.pk, dt.date(2026, 11, 25))
    ]


def test_the_page_needs_the_same_queries_for_1_or_6_items(client, world, chains, now):
    client.force_login(world.district_office)
    url = reverse("demands:meeting")
    t4_demand(world.household_a1)
    client.get(url)  # the first visit creates the meeting

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    for i in range(5):
        t4_demand(world.household_a2, title=f"疑难问题{i}")
    assert count() == one


def test_on_the_25th_the_page_shows_that_days_meeting_until_it_is_held(client, world, chains):
    with time_machine.travel(MONDAY, tick=False):
        d = t4_demand(world.household_a1)
    on_the_day = dt.datetime(2026, 11, 25, 14, 0, tzinfo=SH)
    client.force_login(world.district_office)
    with time_machine.travel(on_the_day, tick=False):
        r = client.get(reverse("demands:meeting"))
        assert r.context["meeting"].date == dt.date(2026, 11, 25)
        assert [i.demand for i in r.context["items"]] == [d]
        meeting = r.context["meeting"]
        client.post(
            reverse("demands:meeting_record", args=[meeting.pk]), {"notes": "研究了 1 个问题。"}
        )
        r = client.get(reverse("demands:meeting"))
    meeting.refresh_from_db()
    assert meeting.held and meeting.notes == "研究了 1 个问题。"
    # The undecided item moves on to December's agenda; November's keeps its record.
    assert r.context["meeting"].date == dt.date(2026, 12, 25)
    assert [i.demand for i in r.context["items"]] == [d]
    assert d.meeting_items.count() == 2
    assert dt.date(2026, 11, 25) in [m.date for m in r.context["previous"]]


def test_a_decision_whose_time_limit_passed_comes_back_on_the_agenda(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    actions.decide_meeting_item(
        item,
        by=world.district_office,
        decision="区城管局牵头处理。",
        assignee=chains,
        due=now + dt.timedelta(days=3),
    )
    actions.record_meeting(item.meeting, notes="")
    later = now + dt.timedelta(days=4)
    with time_machine.travel(later, tick=False):
        client.force_login(world.district_office)
        r = client.get(reverse("demands:meeting"))
    assert r.context["meeting"].date == dt.date(2026, 12, 25)
    (again,) = r.context["items"]
    assert again.demand == d and again.light == "red" and not again.decision


def test_a_past_meeting_has_its_own_page(client, world, chains, now):
    d = t4_demand(world.household_a1)
    client.force_login(world.district_office)
    assert client.get(reverse("demands:meeting_on", args=["2026-11-25"])).status_code == 200
    assert client.get(reverse("demands:meeting_on", args=["2026-10-25"])).status_code == 404
    assert client.get("/demands/meeting/2026-13-45/").status_code == 404
    assert d.title in client.get("/demands/meeting/2026-11-25/").content.decode()


# --- the decision ---------------------------------------------------------------------
def test_a_decision_assigns_a_responsible_person_with_a_deadline(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    r = decide(
        client, item, assignee=chains.pk, due="2026-12-10T17:30", minutes="住建局、街道参会。"
    )
    assert r.status_code == 302
    item.refresh_from_db()
    d.refresh_from_db()
    due = dt.datetime(2026, 12, 10, 17, 30, tzinfo=SH)
    assert item.decision.startswith("由区住建局牵头") and item.assignee == chains
    assert item.due == due and item.decided_at == now and item.minutes == "住建局、街道参会。"
    assert (d.state, d.handler, d.tier) == (State.DISPATCHED, chains, Tier.DISPATCH_MEETING)
    assert d.clock_started_at == now and d.deadline == due and now < d.warn_at < due
    internal, public = DemandEvent.objects.filter(demand=d, kind=EventKind.MEETING).order_by("id")
    assert not internal.public and internal.text == item.decision
    assert internal.data["assignee_id"] == chains.pk and internal.data["due"] == "2026-12-10 17:30"
    assert public.public and public.text == "区一线办调度会已研究，明确责任人和完成时限。"
    note = Notification.objects.filter(user=chains, demand=d, text__startswith="调度会交办").get()
    assert "2026-12-10 17:30" in note.text
    # The assignee takes it like any order.
    actions.claim_demand(d, by=chains)
    d.refresh_from_db()
    assert d.state == State.ACCEPTED


def test_a_double_submit_records_the_decision_once(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    for _ in range(2):
        assert decide(client, item, assignee=chains.pk, due="2026-12-10T17:30").status_code == 302
    assert meeting_events(d) == 2  # one internal, one public
    assert Notification.objects.filter(user=chains, text__startswith="调度会交办").count() == 1
    r = decide(client, item, assignee=world.worker_a.pk, due="2026-12-11T17:30", decision="改派")
    assert r.status_code == 400 and "不能重复决定" in r.content.decode()
    assert meeting_events(d) == 2
    item.refresh_from_db()
    assert item.assignee == chains


def test_the_decision_needs_a_time_limit_in_the_future_and_a_person(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    r = decide(client, item, assignee=chains.pk, due="2026-11-01T17:30")
    assert r.status_code == 400 and "完成时限必须晚于现在" in r.content.decode()
    r = decide(client, item, assignee="", due="2026-12-10T17:30", decision="")
    assert r.status_code == 400
    resident = world.resident_user_a
    r = decide(client, item, assignee=resident.pk, due="2026-12-10T17:30")
    assert r.status_code == 400  # not one of the choices
    assert meeting_events(d) == 0


def test_htmx_gets_the_decided_item_back(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    r = client.post(
        reverse("demands:meeting_decide", args=[item.pk]),
        {
            f"item{item.pk}-decision": "街道牵头协调。",
            f"item{item.pk}-assignee": chains.pk,
            f"item{item.pk}-due": "2026-12-10T17:30",
        },
        HTTP_HX_REQUEST="true",
    )
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body
    assert f'id="item-{item.pk}"' in body and "已记录调度会决定" in body and "书记甲" in body
    assert 'id="agenda-count" hx-swap-oob="true"' in body and "待决定 0 项" in body


def test_a_demand_resolved_meanwhile_cannot_be_decided(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    actions.resolve_demand(d, by=world.district_office, answer="已协调解决。")
    with pytest.raises(actions.ActionError):
        actions.decide_meeting_item(
            item,
            by=world.district_office,
            decision="x",
            assignee=chains,
            due=now + dt.timedelta(days=5),
        )
    client.force_login(world.district_office)
    body = client.get(reverse("demands:meeting")).content.decode()
    assert "「已办结」，无需再作决定" in body


def test_the_meeting_notes_are_for_the_deciders(client, world, chains, now):
    t4_demand(world.household_a1)
    meeting = DispatchMeeting.objects.get()
    client.force_login(world.street_office)
    url = reverse("demands:meeting_record", args=[meeting.pk])
    assert client.post(url, {"notes": "x"}).status_code == 403
    client.force_login(world.admin)
    assert client.post(url, {"notes": "  会议研究 1 项。 "}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.held and meeting.notes == "会议研究 1 项。"


def test_htmx_gets_the_form_back_with_its_errors(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    r = client.post(
        reverse("demands:meeting_decide", args=[item.pk]),
        {f"item{item.pk}-decision": "", f"item{item.pk}-due": "2026-12-10T17:30"},
        HTTP_HX_REQUEST="true",
    )
    body = r.content.decode()
    assert r.status_code == 200 and "<html" not in body and "invalid-feedback" in body
    assert "待决定 1 项" in body
    assert meeting_events(d) == 0


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_record_one_decision(world, chains):
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database cannot take two writers at once")
    import threading

    d = t4_demand(world.household_a1, escalated_at=dt.datetime.now(SH))
    item = d.meeting_items.get()
    due = dt.datetime.now(SH) + dt.timedelta(days=10)
    start, errors = threading.Barrier(2, timeout=10), []

    def submit_once() -> None:
        try:
            start.wait()
            actions.decide_meeting_item(
                item, by=world.district_office, decision="街道牵头。", assignee=chains, due=due
            )
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert meeting_events(d) == 2  # one internal, one public: once
    assert Notification.objects.filter(user=chains, text__startswith="调度会交办").count() == 1


# --- a long agenda ------------------------------------------------------------------
def test_a_long_agenda_is_paged_and_the_counts_cover_it_all(
    client, world, chains, now, monkeypatch
):
    monkeypatch.setattr(views_meeting, "PAGE_SIZE", 2)
    demands = [t4_demand(world.household_a1, title=f"疑难问题{i}") for i in range(5)]
    client.force_login(world.district_office)
    url = reverse("demands:meeting")
    pages = []
    for number in (1, 2, 3):
        body = client.get(url, {"page": number}).content.decode()
        assert "议题 5 项，待决定 5 项" in body and f"第 {number} / 3 页" in body
        pages.append([d.title for d in demands if f">{d.title}<" in body])
    # Oldest first, each demand on exactly one page.
    assert pages == [["疑难问题0", "疑难问题1"], ["疑难问题2", "疑难问题3"], ["疑难问题4"]]
    # A page past the end (items decided away meanwhile) shows the last one.
    assert ">疑难问题4<" in client.get(url, {"page": 9}).content.decode()


def test_a_page_of_the_agenda_is_sorted_without_what_its_items_join(client, world, chains, now):
    # The sort over the items' keys and their demands' dates only; the page's rows are
    # then read with their demand, category, community, handler… (core.paging).
    for i in range(3):
        t4_demand(world.household_a1, title=f"疑难问题{i}")
    client.force_login(world.district_office)
    url = reverse("demands:meeting")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get(url).content.decode()
    assert all(f">疑难问题{i}<" in body for i in range(3))
    sorted_items = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "demands_meetingitem"."id"') and "ORDER BY" in q["sql"]
    ]
    assert len(sorted_items) == 1, sorted_items
    assert '"demands_category"' not in sorted_items[0] and '"accounts_user"' not in sorted_items[0]
    assert any(
        '"demands_category"."name"' in q["sql"] and '"demands_meetingitem"."id" IN (' in q["sql"]
        for q in ctx.captured_queries
    )


def test_the_page_leaves_the_list_of_people_to_the_item_that_is_opened(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    body = client.get(reverse("demands:meeting")).content.decode()
    decide_url = reverse("demands:meeting_decide", args=[item.pk])
    assert f'hx-get="{decide_url}"' in body and 'hx-trigger="toggle once"' in body
    assert f'name="item{item.pk}-assignee"' not in body and "书记甲" not in body
    # htmx asks for the form when the item is opened: the form alone, with the people.
    r = client.get(decide_url, HTTP_HX_REQUEST="true")
    form = r.content.decode()
    assert r.status_code == 200 and "<html" not in form
    assert f'name="item{item.pk}-assignee"' in form and "书记甲" in form
    assert f'hx-post="{decide_url}"' in form
    # Without JavaScript the link opens the agenda with that item's form open.
    page = client.get(decide_url).content.decode()
    assert "<html" in page and f'name="item{item.pk}-assignee"' in page
    assert '<details class="mt-2" open>' in page


def test_the_form_asked_for_a_decided_item_gives_the_item_as_it_is(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.district_office)
    assert decide(client, item, assignee=chains.pk, due="2026-12-10T17:30").status_code == 302
    r = client.get(reverse("demands:meeting_decide", args=[item.pk]), HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200 and r.headers["HX-Retarget"] == f"#item-{item.pk}"
    assert "由区住建局牵头" in body and "assignee" not in body.split("责任人")[0]
    assert f'name="item{item.pk}-assignee"' not in body


def test_only_deciders_get_the_form(client, world, chains, now):
    d = t4_demand(world.household_a1)
    item = d.meeting_items.get()
    client.force_login(world.street_office)
    r = client.get(reverse("demands:meeting_decide", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert r.status_code == 403


def test_a_decision_sends_back_to_the_items_page(client, world, chains, now, monkeypatch):
    monkeypatch.setattr(views_meeting, "PAGE_SIZE", 2)
    demands = [t4_demand(world.household_a1, title=f"疑难问题{i}") for i in range(5)]
    item = demands[3].meeting_items.get()
    client.force_login(world.district_office)
    r = decide(client, item, assignee=chains.pk, due="2026-12-10T17:30")
    assert r.status_code == 302 and r.url.endswith(f"?page=2#item-{item.pk}")
    # A refused decision shows the item's page with its form and the error.
    other = demands[4].meeting_items.get()
    r = decide(client, other, assignee=chains.pk, due="2026-11-01T17:30")
    body = r.content.decode()
    assert r.status_code == 400 and "完成时限必须晚于现在" in body and ">疑难问题4<" in body
    assert "第 3 / 3 页" in body


@pytest.mark.parametrize("who", ["admin", "district_office", "street_office"])
def test_the_items_are_not_read_through_a_list_of_every_demand_in_scope(
    client, world, chains, now, who
):
    """An administrator's items are not filtered at all; anyone else's are tested one
    by one (EXISTS), never "demand IN (every demand of the scope)", which SQLite builds
    in full first (a million rows for a district office)."""
    t4_demand(world.household_a1)
    client.force_login(world.users()[who])
    url = reverse("demands:meeting")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert any('COUNT("demands_meetingitem"."id")' in sql for sql in sqls)
    assert not any('"demands_meetingitem"."demand_id" IN (SELECT' in sql for sql in sqls)
    assert not any('"items"."demand_id" IN (SELECT' in sql for sql in sqls)


def test_the_agenda_is_filled_from_the_index_of_t4_demands(world, now):
    """Filling the agenda reads the T4 demands through the index that holds only them
    ("demand_meeting_tier"), not every open demand: the tier is written into the SQL so
    that the planner can match the index's condition."""
    t4_demand(world.household_a1)
    submit(world.household_a2, title="普通诉求")
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        actions.fill_meeting_agenda(actions.agenda_meeting())
    (sql, params), *_ = [(s, p) for s, p in sent if s.startswith('SELECT "demands_demand"."id"')]
    assert '"demands_demand"."tier" = 4' in sql and "ORDER BY" not in sql
    if connection.vendor == "sqlite":  # (PostgreSQL scans a table this small instead)
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "USING INDEX demand_meeting_tier" in plan, plan
