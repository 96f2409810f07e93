import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Responsibility, Role
from tongxin.demands import actions, clock
from tongxin.demands.models import (
    Demand,
    DemandEvent,
    EventKind,
    MeetingItem,
    Notification,
    Satisfaction,
    State,
    Tier,
)
from tongxin.demands.testing import submit
from tongxin.testing import make_user

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def chains(world):
    """A community secretary, a street and a district responsible person."""
    sec = make_user("sec_a", UserRole.COMMUNITY_WORKER, world.community_a, "书记甲")
    Responsibility.objects.create(area=world.community_a, user=sec, role=Role.COMMUNITY_SECRETARY)
    Responsibility.objects.create(
        area=world.street, user=world.street_office, role=Role.STATION_CADRE
    )
    Responsibility.objects.create(
        area=world.district, user=world.district_office, role=Role.STATION_CADRE
    )
    return sec


def test_the_whole_loop(world, chains):
    d = submit(world.household_a1, reporter=world.resident_a1)
    assert d.state == State.SUBMITTED and d.tier == Tier.ON_SITE and d.deadline > d.created_at
    assert Notification.objects.filter(user=chains, demand=d).exists()
    actions.dispatch_demand(d, by=world.worker_a, to_pool=True)
    d = actions.claim_demand(d, by=world.party_member_a)
    assert d.state == State.ACCEPTED and d.handler == world.party_member_a
    actions.start_handling(d, by=world.party_member_a)
    d = actions.resolve_demand(d, by=world.party_member_a, answer="已清理楼道。")
    assert d.state == State.RESOLVED and d.resolved_on_time
    d = actions.rate_by_resident(d, satisfaction=Satisfaction.SATISFIED)
    with pytest.raises(actions.ActionError):
        actions.rate_by_resident(d, satisfaction=Satisfaction.DISSATISFIED)
    d = actions.record_return_visit(d, by=world.worker_a, satisfaction=Satisfaction.SATISFIED)
    assert d.state == State.CLOSED
    public = [e.kind for e in d.events.filter(public=True)]
    assert public == [
        EventKind.SUBMITTED,
        EventKind.DISPATCHED,
        EventKind.CLAIMED,
        EventKind.RESOLVED,
        EventKind.RATED,
    ]


def test_a_double_submit_makes_one_demand(world, chains):
    a = submit(world.household_a1, token="tok-1")
    b = submit(world.household_a1, token="tok-1")
    assert a.pk == b.pk
    # The repeat's transaction is rolled back whole: no second event or message.
    assert DemandEvent.objects.count() == Notification.objects.count() == 1


def test_a_repeated_token_gets_the_first_demand_even_where_a_new_one_could_not_be(world):
    a = submit(world.household_a1, token="tok-1")
    demand, created = actions.submit_demand(
        area=world.street,  # no community: a new demand would be refused
        category=a.category,
        title="again",
        description="again",
        submission_token="tok-1",
    )
    assert (demand.pk, created) == (a.pk, False)
    with pytest.raises(actions.ActionError):
        submit(world.street, token="tok-2")


def test_the_people_told_of_a_new_demand_are_found_in_one_query(
    world, chains, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert actions.dispatchers_of(world.community_a) == [chains]
    # Away until further notice: the chain of the node above answers.
    Responsibility.objects.filter(user=chains).update(absent_from=dt.date(2020, 1, 1))
    with django_assert_num_queries(1):
        assert actions.dispatchers_of(world.community_a) == [world.street_office]
    # An account switched off is not there either (the rule of Area.responsible_now).
    world.street_office.is_active = False
    world.street_office.save()
    with django_assert_num_queries(1):
        assert actions.dispatchers_of(world.community_a) == [world.district_office]
    assert world.community_a.responsible_now().user == world.district_office
    # Nobody present anywhere up the chain: the community's workers.
    Responsibility.objects.filter(user=world.district_office).update(
        absent_from=dt.date(2020, 1, 1), absent_until=dt.date(2100, 1, 1)
    )
    workers = actions.dispatchers_of(world.community_a)
    assert workers and {u.role for u in workers} == {UserRole.COMMUNITY_WORKER}
    assert world.community_a.responsible_now() is None


def test_dissatisfied_reopens_as_rework(world, chains):
    d = submit(world.household_a1)
    actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
    actions.claim_demand(d, by=world.grid_worker_a)
    actions.resolve_demand(d, by=world.grid_worker_a, answer="已处理")
    d = actions.record_return_visit(
        d, by=world.worker_a, satisfaction=Satisfaction.DISSATISFIED, comment="还是很脏"
    )
    assert d.state == State.ACCEPTED and d.rework_count == 1 and d.resolved_at is None


def test_a_claimed_order_cannot_be_claimed_again(world):
    d = submit(world.household_a1)
    actions.dispatch_demand(d, by=world.worker_a, to_pool=True)
    actions.claim_demand(d, by=world.party_member_a)
    other = make_user("pm2", UserRole.PARTY_MEMBER, world.community_a, "党员乙")
    with pytest.raises(actions.ActionError):
        actions.claim_demand(d, by=other)


def test_merge_gives_the_duplicate_the_main_answer(world):
    main = submit(world.household_a1, title="路灯不亮")
    dup = submit(world.household_a2, title="1栋门口路灯坏了")
    actions.merge_demand(dup, into=main, by=world.worker_a)
    actions.dispatch_demand(main, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(main, by=world.grid_worker_a, answer="已更换灯泡。")
    dup.refresh_from_db()
    assert dup.state == State.MERGED and dup.public_answer == "已更换灯泡。"
    assert dup.events.filter(kind=EventKind.RESOLVED, public=True).exists()


def test_return_and_withdraw(world, chains):
    d = submit(world.household_a1)
    actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
    with pytest.raises(actions.ActionError):
        actions.return_demand(d, by=world.grid_worker_a, reason="  ")
    d = actions.return_demand(d, by=world.grid_worker_a, reason="不属于本网格")
    assert d.state == State.RETURNED and d.handler is None
    d = actions.withdraw_demand(d, reason="已自行解决")
    assert d.state == State.WITHDRAWN
    with pytest.raises(actions.ActionError):
        actions.dispatch_demand(d, by=world.worker_a, to_pool=True)


def test_the_sweep_escalates_an_overdue_demand_exactly_once(world, chains):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)  # a Monday
    with time_machine.travel(start, tick=False):
        d = submit(world.household_a1, now=start)
    # environment: 3 working days → Thursday 17:30
    assert d.deadline == dt.datetime(2026, 11, 26, 17, 30, tzinfo=SH)
    before = dt.datetime(2026, 11, 26, 17, 0, tzinfo=SH)
    assert actions.sweep_deadlines(before) == 0
    after = dt.datetime(2026, 11, 26, 18, 0, tzinfo=SH)
    assert actions.sweep_deadlines(after) == 1
    assert actions.sweep_deadlines(after) == 0
    d.refresh_from_db()
    assert d.tier == Tier.TIME_LIMITED and d.handler == chains and d.deadline > after
    assert DemandEvent.objects.filter(demand=d, kind=EventKind.ESCALATED).count() == 1
    assert Notification.objects.filter(demand=d, user=chains).exists()
    assert Notification.objects.filter(demand=d, user=world.street_office).exists()


def test_t4_goes_on_the_next_meeting_agenda(world, chains):
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SH)
    d = submit(world.household_a1, now=start)
    now = start
    for _ in range(3):
        d.refresh_from_db()
        now = d.deadline + dt.timedelta(minutes=1)
        assert actions.escalate_demand(d.pk, now=now)
    d.refresh_from_db()
    assert d.tier == Tier.DISPATCH_MEETING and d.handler == world.district_office
    item = d.meeting_items.get()
    assert item.meeting.date.day == 25 and item.meeting.date >= now.date()
    assert not actions.escalate_demand(d.pk, now=d.deadline + dt.timedelta(days=1))


def test_suggestions_skip_absent_people_and_prefer_light_loads(world, chains):
    d = submit(world.household_a1)
    names = [u.username for u, _why, _load in actions.suggest_handlers(d)]
    assert names[0] == "grid_a" and "sec_a" in names
    first = world.grid_a.responsibilities.get(position=1)
    first.absent_from = dt.date(2000, 1, 1)
    first.save()
    names = [u.username for u, _why, _load in actions.suggest_handlers(d)]
    assert "grid_a" not in names


def test_on_time_is_judged_against_the_first_limit_not_the_escalated_one(world, chains):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    d = submit(world.household_a1, now=start)
    first = d.deadline
    assert actions.escalate_demand(d.pk, now=first + dt.timedelta(minutes=1))
    d.refresh_from_db()
    assert d.deadline > first and d.first_deadline == first
    d = actions.resolve_demand(d, by=chains, answer="已处理", now=first + dt.timedelta(hours=2))
    assert d.resolved_on_time is False


def test_a_postponed_demand_is_left_out_of_the_sweep(world, chains):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    d = submit(world.household_a1, now=start)
    actions.postpone_demand(d, by=world.worker_a, reason="纳入明年改造计划")
    with pytest.raises(actions.ActionError):
        actions.postpone_demand(d, by=world.worker_a, reason="再次")
    assert actions.sweep_deadlines(d.deadline + dt.timedelta(minutes=1)) == 0


def test_a_meeting_on_a_sunday_moves_to_the_next_working_day(db):
    assert actions.next_meeting_date(dt.date(2026, 11, 2)) == dt.date(2026, 11, 25)  # Wednesday
    assert actions.next_meeting_date(dt.date(2026, 10, 2)) == dt.date(2026, 10, 26)  # 25th: Sunday
    assert actions.next_meeting_date(dt.date(2026, 11, 25)) == dt.date(2026, 12, 25)


# --- 恢复办理 (a postponed demand taken up again) ----------------------------------------
@pytest.mark.parametrize(
    "tier", [Tier.ON_SITE, Tier.TIME_LIMITED, Tier.COORDINATED, Tier.DISPATCH_MEETING]
)
def test_a_postponed_demand_is_taken_up_again_with_a_fresh_time_limit(world, chains, tier):
    start = dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    with time_machine.travel(start, tick=False):
        d = submit(world.household_a1, now=start)
        actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
        Demand.objects.filter(pk=d.pk).update(tier=tier)
        actions.postpone_demand(d, by=world.worker_a, reason="纳入明年改造计划")
    first_deadline = Demand.objects.get(pk=d.pk).first_deadline
    # The next year: the plan it was put into has come.
    now = dt.datetime(2027, 1, 6, 10, 0, tzinfo=SH)
    with time_machine.travel(now, tick=False):
        d = actions.resume_demand(d, by=world.worker_a, reason="今年改造计划已立项，恢复办理")
    d = Demand.objects.get(pk=d.pk)
    assert not d.postponed and d.tier == tier and d.state == State.DISPATCHED
    expected = {
        Tier.ON_SITE: clock.deadline_after(now, d.category.time_limit, d.category.time_unit),
        Tier.TIME_LIMITED: clock.deadline_after(now, actions.TIER_LIMITS_DAYS[2], "days"),
        Tier.COORDINATED: clock.deadline_after(now, actions.TIER_LIMITS_DAYS[3], "days"),
        # Until the next dispatch meeting (the 25th), as escalation to T4 sets it.
        Tier.DISPATCH_MEETING: dt.datetime(2027, 1, 25, 17, 30, tzinfo=SH),
    }[tier]
    assert d.deadline == expected and d.deadline > now
    assert d.clock_started_at == now and d.warn_at == clock.warn_time(now, d.deadline)
    assert d.first_deadline == first_deadline  # 按期 is still judged against the first limit
    event = d.events.get(kind=EventKind.RESUMED)
    assert (event.text, event.actor, event.public, event.at) == (
        "今年改造计划已立项，恢复办理",
        world.worker_a,
        False,
        now,
    )
    assert Notification.objects.filter(
        user=world.grid_worker_a, demand=d, text__contains="恢复办理"
    ).exists()
    on_agenda = MeetingItem.objects.filter(demand=d, meeting__date=dt.date(2027, 1, 25))
    assert on_agenda.exists() == (tier == Tier.DISPATCH_MEETING)


def test_only_a_postponed_open_demand_is_taken_up_again_and_with_a_reason(world, chains):
    d = submit(world.household_a1)
    actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)

    def refused(message: str, reason: str = "恢复办理") -> None:
        before = Demand.objects.filter(pk=d.pk).values().get()
        events, notes = d.events.count(), Notification.objects.count()
        with pytest.raises(actions.ActionError, match=message):
            actions.resume_demand(d, by=world.worker_a, reason=reason)
        assert Demand.objects.filter(pk=d.pk).values().get() == before
        assert (d.events.count(), Notification.objects.count()) == (events, notes)

    refused("该诉求不是缓办状态。")
    actions.postpone_demand(d, by=world.worker_a, reason="纳入明年改造计划")
    refused("恢复办理时必须说明原因。", reason=" \n ")
    actions.withdraw_demand(d, reason="已自行解决")
    refused("不能进行此操作")  # withdrawn: no longer open
    assert not d.events.filter(kind=EventKind.RESUMED).exists()


def test_a_handlers_load_counts_only_what_is_open_in_their_hands(world, chains):
    first, second, third = (submit(world.household_a1) for _ in range(3))
    for d in (first, second, third):
        actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
    actions.dispatch_demand(submit(world.household_a1), by=world.worker_a, to_pool=True)
    actions.claim_demand(second, by=world.grid_worker_a)  # accepted: still open
    actions.resolve_demand(third, by=world.grid_worker_a, answer="已清理")  # done: not a load
    users = [world.grid_worker_a.pk, world.party_member_a.pk, world.worker_a.pk]
    assert actions.open_loads(users) == {world.grid_worker_a.pk: 2}
    assert actions.open_loads([]) == {}
    # As the dispatch form shows it beside the name.
    loads = {u.username: load for u, _why, load in actions.suggest_handlers(first)}
    assert loads["grid_a"] == 2
