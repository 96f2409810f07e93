"""The deadline sweep running on its own: exactly-once escalation, working-day
deadlines across holidays and an unknown year, the traffic light, the four tiers, its
cost, and the scheduler that queues it."""

import datetime as dt
import os
import signal
import threading
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Responsibility, Role
from tongxin.demands import actions, clock, tasks
from tongxin.demands.models import (
    Demand,
    DemandEvent,
    DispatchMeeting,
    EventKind,
    Notification,
    State,
    Tier,
)
from tongxin.demands.notify import Channel
from tongxin.demands.testing import category, submit
from tongxin.testing import make_user
from tongxin.workcal import calendar as workcal
from tongxin.workcal.models import CalendarDay

SH = ZoneInfo("Asia/Shanghai")
DB_QUEUE = {
    "default": {
        "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
        "QUEUES": settings.TASK_QUEUES,
    }
}


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


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


class RecordingChannel(Channel):
    """An outbound channel that remembers what went out (after the commit)."""

    sent: list[tuple[int, str, int | None]] = []
    lock = threading.Lock()

    def send(self, user, text, demand) -> None:
        with self.lock:
            self.sent.append((user.pk, text, demand.pk if demand else None))


@pytest.fixture
def outbox(settings):
    settings.TONGXIN_NOTIFY_CHANNELS = [f"{__name__}.RecordingChannel"]
    RecordingChannel.sent = []
    return RecordingChannel.sent


def submitted(world, when: dt.datetime, code: str = "environment") -> Demand:
    with time_machine.travel(when, tick=False):
        return submit(world.household_a1, now=when, category=category(code))


def escalations(demand: Demand) -> int:
    return DemandEvent.objects.filter(demand=demand, kind=EventKind.ESCALATED).count()


def told(demand: Demand, user) -> int:
    """How many escalation messages ``user`` got about ``demand``."""
    return Notification.objects.filter(demand=demand, user=user, text__contains="升级").count()


# --- (a) exactly once, even when two sweeps run at once -------------------------------
def test_it_escalates_once_when_a_second_sweep_slips_in_between_read_and_write(world, chains):
    """The worst interleaving, made deterministic: a second sweep runs to the end after
    the first has read the demand and before it writes. The first must then change
    nothing (its conditional UPDATE finds the tier it read gone)."""
    d = submitted(world, at(2026, 11, 23, 9, 0))
    now = d.deadline + dt.timedelta(minutes=1)
    original = actions._next_tier_target
    calls = []

    def second_sweep_slips_in(demand, tier):
        calls.append(tier)
        if len(calls) == 1:
            assert actions.sweep_deadlines(now) == 1
        return original(demand, tier)

    actions._next_tier_target = second_sweep_slips_in
    try:
        assert actions.escalate_demand(d.pk, now=now) is False
    finally:
        actions._next_tier_target = original
    d.refresh_from_db()
    assert d.tier == Tier.TIME_LIMITED and escalations(d) == 1
    assert told(d, chains) == 1 and told(d, world.street_office) == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_on_their_own_connections_escalate_once(world, chains, outbox):
    """Two threads, each with its own database connection, both read the overdue demand
    before either writes (the second barrier), then both try to escalate it."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "the SQLite test database lives in memory with a shared cache, where a second "
            "writer fails at once (SQLITE_LOCKED) instead of waiting for the first as the "
            "WAL file in production does; the interleaving test above covers SQLite"
        )
    d = submitted(world, at(2026, 11, 23, 9, 0))
    now = d.deadline + dt.timedelta(minutes=1)
    start, both_read = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    original = actions._next_tier_target
    results, errors = [], []

    def after_reading(demand, tier):
        both_read.wait()  # both sweeps have read tier 1 and are about to write
        return original(demand, tier)

    def sweep() -> None:
        try:
            start.wait()
            results.append(actions.sweep_deadlines(now))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    actions._next_tier_target = after_reading
    try:
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        actions._next_tier_target = original
    assert not errors
    assert sorted(results) == [0, 1]
    d.refresh_from_db()
    assert d.tier == Tier.TIME_LIMITED and d.handler == chains and d.deadline > now
    assert escalations(d) == 1
    assert told(d, chains) == 1 and told(d, world.street_office) == 1
    escalated_msgs = [(u, demand) for u, text, demand in outbox if "升级" in text]
    assert sorted(escalated_msgs) == sorted([(chains.pk, d.pk), (world.street_office.pk, d.pk)])


def test_sweeping_again_and_again_changes_nothing_more(world, chains):
    d = submitted(world, at(2026, 11, 23, 9, 0))
    now = d.deadline + dt.timedelta(minutes=1)
    assert [actions.sweep_deadlines(now) for _ in range(3)] == [1, 0, 0]
    assert escalations(d) == 1


# --- (b) deadlines across weekends, public holidays and a year without data ----------
def test_the_2026_calendar_is_the_state_councils(db):
    """The official 2026 schedule (国办发明电〔2025〕): 中秋节 9月25日–27日 off; 国庆节
    10月1日–7日 off; 9月20日 (Sunday) and 10月10日 (Saturday) worked. 9月27日 is a
    Sunday inside the Mid-Autumn break, not a working day."""
    off = [dt.date(2026, 9, d) for d in (25, 26, 27)] + [dt.date(2026, 10, d) for d in range(1, 8)]
    assert not any(workcal.is_workday(d) for d in off)
    assert workcal.is_workday(dt.date(2026, 9, 20)) and workcal.is_workday(dt.date(2026, 10, 10))
    assert workcal.is_workday(dt.date(2026, 10, 8)) and not workcal.is_workday(
        dt.date(2026, 10, 11)
    )


def test_a_deadline_spanning_national_day_counts_the_worked_saturday(world):
    # Wed 30 Sep 10:00 + 3 working days. The day of intake never counts; 1–7 Oct are
    # the holiday; Thu 8 Oct is day 1, Fri 9 Oct day 2, Sat 10 Oct (调休上班) day 3.
    d = submitted(world, at(2026, 9, 30, 10, 0))
    assert d.deadline == at(2026, 10, 10, 17, 30)
    # Yellow at 75% of the working time allowed: 5.5 h left on 30 Sep + 3 × 7 h = 26.5 h;
    # 75% is 19 h 52.5 min: 5.5 h on 30 Sep, 7 h on 8 Oct, 7 h on 9 Oct, and the last
    # 22.5 min from 08:30 on 10 Oct.
    assert clock.WARN_SHARE == 0.75
    assert d.warn_at == at(2026, 10, 10, 8, 52, 30)


def test_a_deadline_spanning_mid_autumn_and_a_worked_sunday(world):
    # Thu 24 Sep 16:00 + 3 (矛盾纠纷): 25–27 Sep off, then Mon 28, Tue 29, Wed 30.
    assert submitted(world, at(2026, 9, 24, 16, 0), "dispute").deadline == at(2026, 9, 30, 17, 30)
    # Sat 19 Sep + 1 (治安): Sunday 20 Sep is worked (调休), so it is day 1.
    assert submitted(world, at(2026, 9, 19, 10, 0), "security").deadline == at(2026, 9, 20, 17, 30)


def test_a_year_without_calendar_data_still_gets_a_deadline(world, chains):
    assert not workcal.library_knows(2027), (
        "chinese-calendar now knows 2027: move this test to the first year it does not know"
    )
    # Wed 30 Dec 2026 10:00 + 3: Thu 31 Dec, then 2027 with weekends only — Fri 1 Jan
    # counts (nobody has entered New Year's Day yet), Sat and Sun do not, Mon 4 Jan.
    d = submitted(world, at(2026, 12, 30, 10, 0))
    assert d.deadline == at(2027, 1, 4, 17, 30)
    assert d.clock_started_at < d.warn_at < d.deadline
    # The sweep escalates it there too: T2 has 5 working days, Tue 5 … Mon 11 Jan.
    assert actions.sweep_deadlines(at(2027, 1, 4, 17, 31)) == 1
    d.refresh_from_db()
    assert d.tier == Tier.TIME_LIMITED and d.deadline == at(2027, 1, 11, 17, 30)


def test_an_administrators_entry_for_the_unknown_year_is_used(world):
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=CalendarDay.Kind.HOLIDAY, name="元旦")
    assert submitted(world, at(2026, 12, 30, 10, 0)).deadline == at(2027, 1, 5, 17, 30)


# --- (c) the traffic light ------------------------------------------------------------
def test_the_light_turns_yellow_at_the_share_and_red_at_the_deadline(world):
    d = submitted(world, at(2026, 9, 30, 10, 0))
    assert d.light(at(2026, 10, 9, 17, 0)) == ""
    assert d.light(d.warn_at - dt.timedelta(seconds=1)) == ""
    assert d.light(d.warn_at) == "yellow"
    assert d.light(at(2026, 10, 10, 17, 29)) == "yellow"
    assert d.light(d.deadline) == "red"
    assert clock.share_used(d, d.warn_at) == pytest.approx(0.75)
    assert set(Demand.objects.warning(d.warn_at)) == {d}
    assert set(Demand.objects.overdue(d.deadline)) == {d}
    d.state = State.RESOLVED
    assert d.light(d.deadline + dt.timedelta(days=3)) == ""


def test_the_warn_share_is_a_setting(world, settings, monkeypatch):
    monkeypatch.setattr(clock, "WARN_SHARE", 0.5)
    d = submitted(world, at(2026, 9, 30, 10, 0))
    # Half of 26.5 h is 13 h 15 min: 5.5 h on 30 Sep, 7 h on 8 Oct, 45 min on 9 Oct.
    assert d.warn_at == at(2026, 10, 9, 9, 15)


# --- (d) the four tiers ---------------------------------------------------------------
def test_t1_to_t4_step_by_step_with_the_right_handler_and_the_level_above_told(world, chains):
    d = submitted(world, at(2026, 11, 2, 9, 0))  # Monday; environment, 3 working days
    assert d.tier == Tier.ON_SITE and d.deadline == at(2026, 11, 5, 17, 30)
    actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)

    assert actions.sweep_deadlines(at(2026, 11, 5, 17, 29)) == 0
    assert actions.sweep_deadlines(at(2026, 11, 5, 17, 31)) == 1
    d.refresh_from_db()
    # T2: the community's responsible person, 5 working days; the street is told.
    assert (d.tier, d.handler, d.state) == (Tier.TIME_LIMITED, chains, State.DISPATCHED)
    assert d.deadline == at(2026, 11, 12, 17, 30)
    assert told(d, chains) == 1 and told(d, world.street_office) == 1

    assert actions.sweep_deadlines(at(2026, 11, 12, 17, 31)) == 1
    d.refresh_from_db()
    # T3: the street's responsible person, 10 working days; the district is told.
    assert (d.tier, d.handler) == (Tier.COORDINATED, world.street_office)
    assert d.deadline == at(2026, 11, 26, 17, 30)
    assert told(d, world.street_office) == 2 and told(d, world.district_office) == 1

    assert actions.sweep_deadlines(at(2026, 11, 26, 17, 31)) == 1
    d.refresh_from_db()
    # T4: the district office, until the next meeting (Friday 25 December, this
    # month's having passed); it is the level above too, and is told once.
    assert (d.tier, d.handler) == (Tier.DISPATCH_MEETING, world.district_office)
    assert d.deadline == at(2026, 12, 25, 17, 30)
    assert told(d, world.district_office) == 2
    assert d.meeting_items.get().meeting.date == dt.date(2026, 12, 25)
    tiers = list(
        DemandEvent.objects.filter(demand=d, kind=EventKind.ESCALATED).values_list(
            "tier_after", flat=True
        )
    )
    assert tiers == [2, 3, 4]

    # T4 is the top: the sweep leaves it to the meeting, however late.
    assert actions.sweep_deadlines(at(2026, 12, 28, 9, 0)) == 0
    assert escalations(d) == 3


@pytest.mark.parametrize(
    ("today", "meeting"),
    [
        (dt.date(2026, 11, 1), dt.date(2026, 11, 25)),
        (dt.date(2026, 11, 24), dt.date(2026, 11, 25)),
        # On the day of the meeting a new T4 case waits for next month: the agenda was
        # prepared beforehand, and the day's end would leave it hours, not weeks.
        (dt.date(2026, 11, 25), dt.date(2026, 12, 25)),
        (dt.date(2026, 11, 30), dt.date(2026, 12, 25)),
        (dt.date(2026, 12, 25), dt.date(2027, 1, 25)),
        (dt.date(2027, 1, 31), dt.date(2027, 2, 25)),
    ],
)
def test_the_next_meeting_is_on_the_25th(db, today, meeting):
    assert actions.next_meeting_date(today) == meeting


def test_a_demand_reaching_t4_on_the_25th_goes_on_next_months_agenda(world, chains):
    d = submitted(world, at(2026, 11, 2, 9, 0))
    Demand.objects.filter(pk=d.pk).update(tier=Tier.COORDINATED, deadline=at(2026, 11, 25, 9, 0))
    assert actions.escalate_demand(d.pk, now=at(2026, 11, 25, 9, 1))
    d.refresh_from_db()
    assert d.meeting_items.get().meeting.date == dt.date(2026, 12, 25)
    assert d.deadline == at(2026, 12, 25, 17, 30)
    assert list(DispatchMeeting.objects.values_list("date", flat=True)) == [dt.date(2026, 12, 25)]


# --- (e) the cost follows the due rows ------------------------------------------------
def test_a_sweep_with_nothing_due_is_one_query_however_many_demands(
    world, django_assert_max_num_queries
):
    when = at(2026, 11, 23, 9, 0)
    for i in range(25):
        submitted(world, when + dt.timedelta(minutes=i))
    with django_assert_max_num_queries(1):
        assert actions.sweep_deadlines(when + dt.timedelta(hours=2)) == 0
    # The task: that query, and the rollup's refresh with nothing to recount (its state,
    # the marks under lock, the moot marks).
    with django_assert_max_num_queries(6), time_machine.travel(when + dt.timedelta(hours=2)):
        assert tasks.sweep_deadlines_task.call() == 0


def test_each_due_demand_costs_the_same(world, chains):
    when = at(2026, 11, 23, 9, 0)
    due = [submitted(world, when + dt.timedelta(minutes=i)) for i in range(3)]
    late = due[-1].deadline + dt.timedelta(minutes=1)
    for i in range(20):
        submitted(world, late + dt.timedelta(minutes=i))  # not due
    costs = []
    for d in due:
        with CaptureQueriesContext(connection) as ctx:
            assert actions.escalate_demand(d.pk, now=late)
        costs.append(len(ctx.captured_queries))
    assert len(set(costs)) == 1


# --- the task and the scheduler -------------------------------------------------------
def test_the_task_escalates_what_is_due(world, chains):
    d = submitted(world, at(2026, 11, 23, 9, 0))
    with time_machine.travel(d.deadline + dt.timedelta(minutes=1), tick=False):
        result = tasks.sweep_deadlines_task.enqueue()  # the immediate backend in tests
    assert result.return_value == 1
    assert escalations(d) == 1


def test_the_scheduler_queues_one_sweep_at_a_time(world, settings):
    settings.TASKS = DB_QUEUE
    assert tasks.enqueue_sweep()[0] is True
    queued, why = tasks.enqueue_sweep()
    assert queued is False and "queued" in why
    assert DBTaskResult.objects.count() == 1
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=dt.datetime.now(SH))
    queued, why = tasks.enqueue_sweep()
    assert queued is False and "running" in why
    DBTaskResult.objects.update(status=TaskResultStatus.SUCCESSFUL)
    assert tasks.enqueue_sweep()[0] is True
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


def test_a_run_left_running_by_a_dead_worker_does_not_block_for_ever(world, settings):
    settings.TASKS = DB_QUEUE
    tasks.enqueue_sweep()
    long_ago = dt.datetime.now(SH) - tasks.STALE_RUN - dt.timedelta(minutes=1)
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=long_ago)
    assert tasks.enqueue_sweep()[0] is True


def test_a_sweep_waiting_long_asks_whether_the_worker_runs(world, settings):
    settings.TASKS = DB_QUEUE
    tasks.enqueue_sweep()
    later = dt.datetime.now(SH) + dt.timedelta(minutes=10)
    queued, why = tasks.enqueue_sweep(later)
    assert not queued and "db_worker" in why


def test_old_finished_sweeps_are_pruned(world, settings):
    settings.TASKS = DB_QUEUE
    now = dt.datetime.now(SH)
    for _ in range(3):
        tasks.sweep_deadlines_task.enqueue()
    old, recent, waiting = DBTaskResult.objects.order_by("enqueued_at")
    DBTaskResult.objects.filter(pk=old.pk).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - dt.timedelta(days=2)
    )
    DBTaskResult.objects.filter(pk=recent.pk).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=now - dt.timedelta(hours=2)
    )
    assert tasks.prune_finished_sweeps(now) == 1
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_once_runs_the_sweep_here_and_now(world, chains):
    d = submitted(world, at(2026, 11, 23, 9, 0))
    out = StringIO()
    with time_machine.travel(d.deadline + dt.timedelta(minutes=1), tick=False):
        call_command("run_scheduler", "--once", stdout=out)
        call_command("run_scheduler", "--once", stdout=out)
    assert "升级超期诉求 1 件" in out.getvalue() and "升级超期诉求 0 件" in out.getvalue()
    assert escalations(d) == 1


def test_sigterm_stops_the_scheduler_between_runs(world, settings, caplog):
    settings.TASKS = DB_QUEUE
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with caplog.at_level("INFO", logger="tongxin.scheduler"):
            call_command("run_scheduler", "--interval", "0.1")
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) == previous  # put back as it was
    lines = [r.getMessage() for r in caplog.records if r.name == "tongxin.scheduler"]
    assert any("queued sweep" in line for line in lines)
    assert any("skipped" in line for line in lines)
    assert lines[-2:] == ["scheduler: SIGTERM received, stopping", "scheduler: stopped"]
    # One sweep and one hot-topic linking run waiting, however many rounds there were,
    # and the hourly expiry of export files, queued in the first round.
    assert sorted(DBTaskResult.objects.values_list("task_path", flat=True)) == [
        "tongxin.board.tasks.link_hot_topics_task",
        "tongxin.demands.exports.expire_exports_task",
        "tongxin.demands.tasks.sweep_deadlines_task",
    ]


def test_a_failing_round_is_logged_and_the_scheduler_goes_on(world, settings, caplog, monkeypatch):
    from tongxin.demands.management.commands.run_scheduler import Command

    def broken(now=None):
        raise RuntimeError("database away")

    monkeypatch.setattr(tasks, "enqueue_sweep", broken)
    with caplog.at_level("INFO", logger="tongxin.scheduler"):
        Command().run_once(0.0)
    assert "this round failed" in caplog.text


# --- postponed demands (缓办) ----------------------------------------------------------
def test_a_postponed_demand_is_not_escalated(world, chains):
    d = submitted(world, at(2026, 11, 23, 9, 0))
    actions.postpone_demand(d, by=world.worker_a, reason="纳入明年老旧小区改造计划")
    late = d.deadline + dt.timedelta(minutes=1)
    assert actions.sweep_deadlines(late) == 0
    assert actions.escalate_demand(d.pk, now=late) is False
    assert escalations(d) == 0


def test_a_resumed_demand_is_escalated_once_its_new_time_runs_out(world, chains):
    d = submitted(world, at(2026, 11, 23, 9, 0))
    actions.postpone_demand(d, by=world.worker_a, reason="纳入明年老旧小区改造计划")
    assert actions.sweep_deadlines(d.deadline + dt.timedelta(days=30)) == 0
    resumed = at(2027, 1, 6, 10, 0)
    with time_machine.travel(resumed, tick=False):
        d = actions.resume_demand(d, by=world.worker_a, reason="改造计划已立项", now=resumed)
    assert d.deadline > resumed and d.tier == Tier.ON_SITE
    assert actions.sweep_deadlines(resumed) == 0
    assert actions.sweep_deadlines(d.deadline - dt.timedelta(minutes=1)) == 0
    late = d.deadline + dt.timedelta(minutes=1)
    assert actions.sweep_deadlines(late) == 1
    d.refresh_from_db()
    assert d.tier == Tier.TIME_LIMITED and d.handler == chains and d.deadline > late
    assert escalations(d) == 1 and told(d, chains) == 1


def test_the_sweep_keeps_sqlite_statistics(world):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's autovacuum keeps its own statistics")
    for i in range(3):
        submitted(world, at(2026, 11, 23, 9, i))
    with connection.cursor() as cursor:
        # No statistics, as after a bulk load. (The migrations made some: emptied, and
        # the planner told to forget what it had read of them.)
        cursor.execute("ANALYZE sqlite_schema")
        cursor.execute("DELETE FROM sqlite_stat1")
        cursor.execute("ANALYZE sqlite_schema")
        tasks.sweep_deadlines_task.call()
        cursor.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'demands_demand'")
        assert cursor.fetchone()[0] > 0
