"""The daily rollup equals a full recount (tongxin.demands.metrics) — after it is built,
while changed days wait for the refresh, after the refresh, as days pass without one,
and after a rebuild — for every day, month and range, per community and together."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tongxin.dashboards.figures import days
from tongxin.demands import actions, metrics, rollup
from tongxin.demands.metrics import Period
from tongxin.demands.models import Channel, DayCount, Demand, DirtyDay, Satisfaction, State
from tongxin.demands.testing import category, submit

SH = ZoneInfo("Asia/Shanghai")
START = dt.date(2026, 3, 2)  # a Monday
NOW = dt.datetime(2026, 3, 20, 15, 0, tzinfo=SH)


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SH)


def ids(world, which: str) -> list[int]:
    return {
        "a": [world.community_a.pk],
        "b": [world.community_b.pk],
        "ab": [world.community_a.pk, world.community_b.pk],
    }[which]


def assert_equal_to_recount(world, now: dt.datetime) -> int:
    """Every day of March, the month, odd ranges, the whole spring: the rollup's figures,
    durations and splits against metrics over the same demands. Returns the number of
    comparisons made (so a test can tell it compared something)."""
    checked = 0
    spans = [(START + dt.timedelta(days=i), START + dt.timedelta(days=i)) for i in range(25)]
    spans += [
        (dt.date(2026, 3, 1), dt.date(2026, 3, 31)),
        (dt.date(2026, 3, 4), dt.date(2026, 3, 17)),
        (dt.date(2026, 2, 1), dt.date(2026, 4, 30)),
    ]
    for which in ("a", "b", "ab"):
        communities = ids(world, which)
        demands = Demand.objects.filter(community_id__in=communities)
        for first, last in spans:
            period = Period.days(first, last)
            by_category = rollup.totals(communities, first, last, by=("category",), now=now)
            total = sum(by_category.values(), Counter())
            where = (which, first, last)
            assert rollup.to_figures(total, period) == metrics.figures(demands, period, now=now), (
                where
            )
            durations = metrics.durations(demands, period, now=now)
            assert total["resolutions"] == durations.resolutions, where
            assert total["responses"] == durations.responses, where
            assert rollup.mean_days(total) == days(durations.resolution_mean), where
            assert rollup.breakdown(by_category, total) == metrics.breakdown(
                demands.filter(created_at__lt=now), period
            ), where
            checked += 1
        assert rollup.monthly(communities, now=now) == metrics.monthly(demands, now=now)
    return checked


@pytest.fixture
def story(world):
    """Demands of the first three weeks of March 2026 in both communities, taken through
    the real actions at the times they happened: resolved in time, resolved late,
    visited (one dissatisfied: reopened), rated, postponed, withdrawn, merged, escalated
    by the sweep, and some still open."""
    env, prop = category("environment"), category("property")
    made: dict[str, Demand] = {}

    def new(key, day, area, cat=env, channel=Channel.WEB, hour=9):
        with time_machine.travel(at(day, hour), tick=False):
            made[key] = submit(area, category=cat, channel=channel, title=f"诉求{key}")

    def resolve(key, when, by=None):
        d = Demand.objects.get(pk=made[key].pk)
        with time_machine.travel(when - dt.timedelta(hours=2), tick=False):
            if d.state == State.SUBMITTED:
                actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
        actions.resolve_demand(
            Demand.objects.get(pk=d.pk), by=world.grid_worker_a, answer="已处理。", now=when
        )

    def visit(key, when, satisfaction):
        with time_machine.travel(when, tick=False):
            actions.record_return_visit(
                Demand.objects.get(pk=made[key].pk), by=world.worker_a, satisfaction=satisfaction
            )

    day = START
    for i in range(12):
        d = day + dt.timedelta(days=i)
        new(f"a{i}", d, world.household_a1, cat=env if i % 3 else prop)
        new(f"b{i}", d, world.household_b1, channel=Channel.HOTLINE, hour=14)
    for i in (0, 1, 2, 5):
        resolve(f"a{i}", at(START + dt.timedelta(days=i + 1), 10))
    resolve("b0", at(START + dt.timedelta(days=9), 11))  # late
    visit("a0", at(START + dt.timedelta(days=3)), Satisfaction.SATISFIED)
    visit("a1", at(START + dt.timedelta(days=4)), Satisfaction.DISSATISFIED)  # rework
    visit("b0", at(START + dt.timedelta(days=10)), Satisfaction.BASICALLY)
    with time_machine.travel(at(START + dt.timedelta(days=6)), tick=False):
        actions.rate_by_resident(
            Demand.objects.get(pk=made["a0"].pk), satisfaction=Satisfaction.SATISFIED
        )
        actions.postpone_demand(
            Demand.objects.get(pk=made["b3"].pk), by=world.worker_b, reason="等待施工季"
        )
        actions.withdraw_demand(Demand.objects.get(pk=made["b4"].pk), reason="已自行解决")
        actions.merge_demand(
            Demand.objects.get(pk=made["a4"].pk),
            into=Demand.objects.get(pk=made["a3"].pk),
            by=world.worker_a,
        )
    with time_machine.travel(at(START + dt.timedelta(days=11), 16), tick=False):
        actions.sweep_deadlines(at(START + dt.timedelta(days=11), 16))
    return made


def test_it_equals_a_recount_all_along(world, story):
    with time_machine.travel(NOW, tick=False):
        # Nothing rolled yet: everything is counted live.
        assert assert_equal_to_recount(world, NOW) == 84
        rolled, _recounted = rollup.refresh(NOW)
        assert rolled == 18  # 2 to 19 March
        assert DayCount.objects.exists()
        assert_equal_to_recount(world, NOW)

        # Changes to demands of past days: marked, read live until the refresh.
        old = Demand.objects.get(pk=story["b1"].pk)
        if old.state == State.SUBMITTED:
            actions.dispatch_demand(old, by=world.worker_b, to_user=world.worker_b)
        old = Demand.objects.get(pk=old.pk)
        actions.resolve_demand(old, by=world.worker_b, answer="已处理。", now=NOW)  # late
        actions.record_return_visit(
            Demand.objects.get(pk=story["a2"].pk),
            by=world.worker_a,
            satisfaction=Satisfaction.DISSATISFIED,  # reopened: loses its resolution
        )
        waiting = Demand.objects.get(pk=story["a7"].pk)
        actions.dispatch_demand(waiting, by=world.worker_a, to_user=world.grid_worker_a)
        actions.claim_demand(Demand.objects.get(pk=waiting.pk), by=world.grid_worker_a)
        assert actions.sweep_deadlines(NOW) > 0
        assert DirtyDay.objects.exists()
        assert_equal_to_recount(world, NOW)

        assert rollup.refresh(NOW)[1] > 0
        assert not DirtyDay.objects.exists()
        assert_equal_to_recount(world, NOW)

    # Days pass and nobody refreshes: the days since are counted live.
    later = NOW + dt.timedelta(days=3)
    with time_machine.travel(later, tick=False):
        assert_equal_to_recount(world, later)
        assert rollup.refresh(later)[0] == 3
        assert_equal_to_recount(world, later)
        rollup.rebuild(later)
        assert_equal_to_recount(world, later)


def test_a_change_marks_only_past_days(world, story):
    with time_machine.travel(NOW, tick=False):
        rollup.refresh(NOW)
        fresh = submit(world.household_a1, title="今天的诉求")
        assert not DirtyDay.objects.exists()  # today is always counted live
        actions.dispatch_demand(fresh, by=world.worker_a, to_user=world.grid_worker_a)
        assert not DirtyDay.objects.exists()
        old = Demand.objects.get(pk=story["a9"].pk)
        actions.withdraw_demand(old, reason="不需要了")
        marked = set(DirtyDay.objects.values_list("community_id", "day"))
        assert (world.community_a.pk, timezone_day(old.created_at)) in marked


def timezone_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SH).date()


def test_many_marked_days_are_brought_up_to_date_by_the_reader(world, story):
    with time_machine.travel(NOW, tick=False):
        rollup.refresh(NOW)
        # A bulk change that went round the actions: mark every day, as a repair would.
        Demand.objects.filter(community=world.community_b).update(channel=Channel.HALL)
        rollup.mark([world.community_b.pk], [START + dt.timedelta(days=i) for i in range(40)][:18])
        rollup.MAX_LIVE_DAYS, saved = 5, rollup.MAX_LIVE_DAYS
        try:
            assert_equal_to_recount(world, NOW)
        finally:
            rollup.MAX_LIVE_DAYS = saved
        assert not DirtyDay.objects.exists()


def test_reads_take_a_fixed_number_of_queries(world, story):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            rollup.totals(communities, dt.date(2026, 1, 1), dt.date(2026, 12, 31), now=NOW)
        return len(ctx)

    communities = ids(world, "ab")
    with time_machine.travel(NOW, tick=False):
        rollup.refresh(NOW)
        cold, warm = count(), count()
        # The state, the marks, six live counts of today; cold also the sums and
        # writing them to the cache, warm reads them from the cache instead.
        assert warm < cold
        for i in range(5):
            with time_machine.travel(at(START + dt.timedelta(days=i), 11), tick=False):
                submit(world.household_b1, title=f"又一件{i}")
        rollup.rebuild(NOW)  # (submitted "in the past": no action marks such a day)
        assert (count(), count()) == (cold, warm)


def test_todays_live_counts_need_no_date_function(world, story):
    """Months are summed by ranges (no date function per row either). A year asked after a refresh: the live part is today alone (days after today count
    nothing), so its day comes from a plain range test, not a per-row date function
    (which SQLite evaluates in Python) — and the figures are still the recount's."""
    communities = ids(world, "ab")
    with time_machine.travel(NOW, tick=False):
        rollup.refresh(NOW)
        with CaptureQueriesContext(connection) as ctx:
            totals = rollup.totals(
                communities, dt.date(2026, 1, 1), dt.date(2026, 12, 31), by=("category",), now=NOW
            )
    with CaptureQueriesContext(connection) as ctx2:
        rollup.totals(
            communities, dt.date(2026, 1, 1), dt.date(2026, 3, 19), by=("month",), now=NOW
        )
    stored = [q["sql"] for q in ctx2.captured_queries if "demands_daycount" in q["sql"]]
    assert stored and not [s for s in stored if "django_date_trunc" in s or "DATE_TRUNC" in s]
    live = [q["sql"] for q in ctx.captured_queries if "demands_demand" in q["sql"]]
    assert len(live) == 6
    date_function = "django_datetime_cast_date" if connection.vendor == "sqlite" else "AT TIME ZONE"
    assert not [sql for sql in live if date_function in sql]
    assert all("CASE WHEN" in sql for sql in live)
    demands = Demand.objects.filter(community_id__in=communities)
    year = Period.days(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    total = sum(totals.values(), Counter())
    assert rollup.to_figures(total, year) == metrics.figures(demands, year, now=NOW)


def test_a_resumed_demand_leaves_its_old_day_and_counts_in_the_denominator_again(world, story):
    """恢复办理 moves the deadline: the day it was due on (as 缓办) is marked and loses
    it, and once the new deadline passes it is due there, in the denominator."""
    b = ids(world, "b")
    postponed = Demand.objects.get(pk=story["b3"].pk)
    old_day = timezone_day(postponed.deadline)
    with time_machine.travel(NOW, tick=False):
        rollup.refresh(NOW)
        before = rollup.figures(b, old_day, old_day, now=NOW)
        assert before.postponed == 1
        resumed = actions.resume_demand(postponed, by=world.worker_b, reason="施工季已到")
        assert (world.community_b.pk, old_day) in set(
            DirtyDay.objects.values_list("community_id", "day")
        )
        after = rollup.figures(b, old_day, old_day, now=NOW)
        assert (after.due, after.postponed) == (before.due - 1, 0)
        assert after.assessed == before.assessed
        assert_equal_to_recount(world, NOW)
        rollup.refresh(NOW)
    later = resumed.deadline + dt.timedelta(hours=1)
    new_day = timezone_day(resumed.deadline)
    assert new_day > old_day
    with time_machine.travel(later, tick=False):
        assert_equal_to_recount(world, later)
        itself = metrics.figures(
            Demand.objects.filter(pk=postponed.pk), Period.days(new_day, new_day), now=later
        )
        assert (itself.due, itself.postponed, itself.assessed) == (1, 0, 1)
        rollup.refresh(later)
        on_new_day = rollup.figures(b, new_day, new_day, now=later)
        assert on_new_day == metrics.figures(
            Demand.objects.filter(community_id__in=b), Period.days(new_day, new_day), now=later
        )
        assert on_new_day.assessed >= 1 and on_new_day.postponed == 0


def test_the_counted_events_are_read_through_their_own_index(world, story):
    """The return visits, ratings and reopenings are counted through the index that holds
    only them (Meta.indexes "event_counted"): their kinds are written into the query's
    SQL, in the index's order, so that the planner can tell the index covers it (with
    the kinds sent as parameters, SQLite never used it)."""
    sent = []

    def record(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        rollup.rebuild(NOW)
    counted = [(sql, params) for sql, params in sent if "demands_demandevent" in sql]
    assert counted
    assert all("IN ('visited', 'rated', 'reopened')" in sql for sql, _params in counted)
    if connection.vendor == "sqlite":  # (PostgreSQL scans a table this small instead)
        with connection.cursor() as cursor:
            for sql, params in counted:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
                assert "USING INDEX event_counted" in plan, plan
