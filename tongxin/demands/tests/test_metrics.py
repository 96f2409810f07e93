"""The indicators against figures worked out by hand (docs/metrics.md has the same
example as a table).

Fourteen demands with explicit times, in January 2026 and around it (Asia/Shanghai).
Every later step runs under time_machine at its own moment; deadlines are set directly,
so the arithmetic does not depend on the working calendar.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import QuerySet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tongxin.accounts.scope import scope_for
from tongxin.demands import actions, metrics
from tongxin.demands.metrics import Period, Rate
from tongxin.demands.models import Channel, Demand, Satisfaction, State, Tier
from tongxin.demands.testing import category, submit

SH = ZoneInfo("Asia/Shanghai")
JANUARY = Period.month(2026, 1)
NOW = dt.datetime(2026, 2, 10, 12, 0, tzinfo=SH)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SH)


class Story:
    """Builds demands step by step, each step at its own time."""

    def __init__(self, world):
        self.world = world

    def new(self, created, deadline, *, area=None, code="environment", channel=Channel.WEB):
        d = submit(
            area or self.world.household_a1, now=created, category=category(code), channel=channel
        )
        Demand.objects.filter(pk=d.pk).update(deadline=deadline, first_deadline=deadline)
        d.refresh_from_db()
        return d

    def dispatch(self, d, when):
        with time_machine.travel(when, tick=False):
            return actions.dispatch_demand(
                d, by=self.world.worker_a, to_user=self.world.grid_worker_a
            )

    def resolve(self, d, when):
        return actions.resolve_demand(d, by=self.world.grid_worker_a, answer="已处理。", now=when)

    def visit(self, d, when, satisfaction):
        with time_machine.travel(when, tick=False):
            return actions.record_return_visit(d, by=self.world.worker_a, satisfaction=satisfaction)

    def rate(self, d, when, satisfaction):
        with time_machine.travel(when, tick=False):
            return actions.rate_by_resident(d, satisfaction=satisfaction)


@pytest.fixture
def story(world):
    """The demands of docs/metrics.md. D1–D14; D11 is the only one in community B."""
    s = Story(world)
    S, B, X = Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.DISSATISFIED
    d = {}
    # D1: answered after 1 h, resolved on time after 24 h, 满意 on the visit and the rating.
    d[1] = s.new(at(1, 5), at(1, 8, 17, 30))
    s.dispatch(d[1], at(1, 5, 10))
    s.resolve(d[1], at(1, 6))
    s.visit(d[1], at(1, 7, 10), S)
    s.rate(d[1], at(1, 7, 11), S)
    # D2 (hotline): answered after 3 h, resolved 11 days late; 基本满意, rated 不满意.
    d[2] = s.new(at(1, 6), at(1, 9, 17, 30), channel=Channel.HOTLINE)
    s.dispatch(d[2], at(1, 6, 12))
    s.resolve(d[2], at(1, 20))
    s.visit(d[2], at(1, 21, 10), B)
    s.rate(d[2], at(1, 22, 10), X)
    # D3 (property): resolved, 不满意 → reopened (返工), resolved again, then 满意.
    d[3] = s.new(at(1, 10), at(1, 14, 17, 30), code="property")
    s.dispatch(d[3], at(1, 10, 9, 30))
    s.resolve(d[3], at(1, 12))
    s.visit(d[3], at(1, 13, 10), X)
    s.resolve(Demand.objects.get(pk=d[3].pk), at(1, 15))
    s.visit(d[3], at(1, 16, 10), S)
    # D4 (hall): postponed (缓办) while waiting, deadline passed, still open.
    d[4] = s.new(at(1, 12), at(1, 15, 17, 30), channel=Channel.HALL)
    with time_machine.travel(at(1, 13), tick=False):
        actions.postpone_demand(d[4], by=s.world.worker_a, reason="待汛期后施工")
    # D5 (property): answered after 2 h, escalated to T2 when late, still open.
    d[5] = s.new(at(1, 14), at(1, 20, 17, 30), code="property")
    s.dispatch(d[5], at(1, 14, 11))
    assert actions.escalate_demand(d[5].pk, now=at(1, 21))
    # D6 (property): the same problem as D5: merged.
    d[6] = s.new(at(1, 15), at(1, 20, 17, 30), code="property")
    with time_machine.travel(at(1, 15, 10), tick=False):
        actions.merge_demand(d[6], into=d[5], by=s.world.worker_a)
    # D7: withdrawn by the reporter.
    d[7] = s.new(at(1, 16), at(1, 21, 17, 30))
    with time_machine.travel(at(1, 16, 12), tick=False):
        actions.withdraw_demand(d[7])
    # D8: from December, resolved early on 2 January (deadline 3 January); rated 基本满意.
    d[8] = s.new(at(12, 28, year=2025), at(1, 3, 17, 30))
    s.dispatch(d[8], at(12, 28, 10, year=2025))
    s.resolve(d[8], at(1, 2))
    s.rate(d[8], at(1, 3, 10), B)
    # D9: answered after 8 h, resolved 31 January before its February deadline; visited in February.
    d[9] = s.new(at(1, 30), at(2, 4, 17, 30))
    s.dispatch(d[9], at(1, 30, 17))
    s.resolve(d[9], at(1, 31, 10))
    s.visit(d[9], at(2, 2, 10), S)
    # D10: due in February (3 February), still open.
    d[10] = s.new(at(1, 28), at(2, 3, 17, 30))
    # D11: community B, resolved on time.
    d[11] = s.new(at(1, 20), at(1, 23, 17, 30), area=s.world.household_b1)
    s.dispatch(d[11], at(1, 20, 10))
    s.resolve(d[11], at(1, 22))
    # D12: its deadline (20 February) is still ahead on 10 February.
    d[12] = s.new(at(1, 25), at(2, 20, 17, 30))
    # D13 (hotline): answered after 1 h, postponed, then resolved a day late.
    d[13] = s.new(at(1, 19), at(1, 21, 17, 30), channel=Channel.HOTLINE)
    s.dispatch(d[13], at(1, 19, 10))
    with time_machine.travel(at(1, 19, 11), tick=False):
        actions.postpone_demand(d[13], by=s.world.worker_a, reason="需协调产权单位")
    s.resolve(d[13], at(1, 22))
    # D14: answered after 6 h, due 29 January, resolved only on 5 February.
    d[14] = s.new(at(1, 26), at(1, 29, 17, 30))
    s.dispatch(d[14], at(1, 26, 15))
    s.resolve(d[14], at(2, 5))
    return d


def community_a(world) -> QuerySet:
    return scope_for(world.worker_a).demands(world.worker_a)


def test_it_counts_january_as_worked_out_by_hand(world, story):
    f = metrics.figures(community_a(world), JANUARY, now=NOW)
    # Created in January in community A: D1–D7, D9, D10, D12, D13, D14 (not D8: December;
    # not D11: community B). Merged D6 and withdrawn D7 count as collected.
    assert f.collected == 12
    # Due in January: D1 (resolved 6 Jan), D2 (deadline 9 Jan), D3 (resolved 15 Jan),
    # D4 (deadline 15 Jan), D5 (deadline moved by escalation, still in January),
    # D8 (resolved 2 Jan), D9 (resolved 31 Jan), D13 (deadline 21 Jan), D14 (deadline
    # 29 Jan) = 9. Not D6 (merged), D7 (withdrawn), D10 (deadline in February), D12 (ahead).
    assert f.due == 9
    assert f.postponed == 2  # D4, D13
    # Resolved among the 9 − 2 = 7: D1, D2, D3, D8, D9, D14 = 6 (D5 still open; D13 is
    # postponed, so it leaves the numerator with the denominator).
    assert f.resolved == 6
    assert f.resolved_on_time == 4  # D1, D3, D8, D9 (D2 and D14 were late)
    assert f.resolution_rate == Rate(6, 7)  # 6 ÷ (9 − 2) = 85.71%
    assert str(f.resolution_rate) == "85.71%"
    assert f.on_time_rate == Rate(4, 7)  # 4 ÷ (9 − 2) = 57.14%
    assert str(f.on_time_rate) == "57.14%"
    # Return visits in January: D1 满意, D2 基本满意, D3 不满意 then 满意 (D9's is in February).
    assert (f.visits, f.visits_satisfied, f.visits_basically, f.visits_dissatisfied) == (4, 2, 1, 1)
    assert str(f.satisfaction_rate) == "75.00%"  # (2 + 1) ÷ 4
    assert str(f.strict_satisfaction_rate) == "50.00%"  # 2 ÷ 4
    # Residents' ratings in January: D1 满意, D2 不满意, D8 基本满意 → (1 + 1) ÷ 3.
    assert (f.ratings, f.ratings_satisfied, f.ratings_basically) == (3, 1, 1)
    assert str(f.rating_rate) == "66.67%"
    # The 不满意 visit on D3 reopened it: one rework, 1 ÷ 6 resolved.
    assert f.rework == 1
    assert str(f.rework_rate) == "16.67%"


def test_it_counts_a_late_resolution_after_the_period_only_when_it_has_happened(world, story):
    # As of 1 February D14 (due 29 January) was still open: 5 resolved of 7.
    at_the_end = metrics.figures(community_a(world), JANUARY, now=JANUARY.end)
    assert (at_the_end.due, at_the_end.resolved, at_the_end.resolved_on_time) == (9, 5, 4)
    # Resolved on 5 February it counts for January, as resolved but not on time.
    later = metrics.figures(community_a(world), JANUARY, now=NOW)
    assert (later.due, later.resolved, later.resolved_on_time) == (9, 6, 4)


def test_it_scopes_the_figures_to_the_demands_given(world, story):
    street = scope_for(world.street_office).demands(world.street_office)
    f = metrics.figures(street, JANUARY, now=NOW)
    # Community A's figures plus D11 (created, due, resolved on time in January).
    assert (f.collected, f.due, f.postponed, f.resolved, f.resolved_on_time) == (13, 10, 2, 7, 5)
    assert f.resolution_rate == Rate(7, 8)  # 7 ÷ (10 − 2) = 87.50%
    b = metrics.figures(scope_for(world.worker_b).demands(world.worker_b), JANUARY, now=NOW)
    assert (b.collected, b.due, b.resolved, b.visits) == (1, 1, 1, 0)


def test_it_measures_response_and_resolution_times_in_wall_clock_hours(world, story):
    t = metrics.durations(community_a(world), JANUARY, now=NOW)
    # First responses in January: D1 1 h, D2 3 h, D3 0.5 h, D5 2 h, D9 8 h, D13 1 h,
    # D14 6 h → sorted 0.5 1 1 2 3 6 8: median 2 h, mean 21.5 ÷ 7 h.
    assert t.responses == 7
    assert t.response_median == 2
    assert t.response_mean == pytest.approx(21.5 / 7)
    # Resolutions in January, intake to (last) resolution: D1 24 h, D2 336 h, D3 120 h
    # (reopened; 10 Jan → 15 Jan), D8 120 h (28 Dec → 2 Jan), D9 25 h, D13 72 h → sorted
    # 24 25 72 120 120 336: median (72 + 120) ÷ 2 = 96 h, mean 697 ÷ 6 h.
    assert t.resolutions == 6
    assert t.resolution_median == 96
    assert t.resolution_mean == pytest.approx(697 / 6)


def test_it_breaks_the_collected_down(world, story):
    b = metrics.breakdown(community_a(world), JANUARY)
    assert [(s.label, s.count) for s in b.by_category] == [("环境卫生", 9), ("物业管理", 3)]
    assert [(s.key, s.count) for s in b.by_channel] == [("web", 9), ("hotline", 2), ("hall", 1)]
    assert [(s.key, s.count) for s in b.by_state] == [
        (State.SUBMITTED, 3),  # D4, D10, D12
        (State.DISPATCHED, 1),  # D5 (no one responsible at T2 in this world: still 已派单)
        (State.RESOLVED, 2),  # D13, D14
        (State.CLOSED, 4),  # D1, D2, D3, D9
        (State.MERGED, 1),
        (State.WITHDRAWN, 1),
    ]
    assert [(s.key, s.count) for s in b.by_tier] == [(Tier.ON_SITE, 11), (Tier.TIME_LIMITED, 1)]


def test_it_gives_twelve_months_that_add_up(world, story):
    series = metrics.monthly(community_a(world), now=NOW)
    months = [m for m, _f in series]
    assert len(months) == 12
    assert (months[0], months[-1]) == (dt.date(2025, 3, 1), dt.date(2026, 2, 1))
    by_month = dict(series)
    assert by_month[dt.date(2026, 1, 1)] == metrics.figures(community_a(world), JANUARY, now=NOW)
    december = by_month[dt.date(2025, 12, 1)]
    assert (december.collected, december.due) == (1, 0)  # D8 fell due when resolved, in January
    february = by_month[dt.date(2026, 2, 1)]
    assert (february.collected, february.due, february.resolved) == (0, 1, 0)  # D10
    # Every demand falls due in one period only: the months add up to all time.
    total = metrics.figures(community_a(world), now=NOW)
    assert total.due == sum(f.due for _m, f in series) == 10
    assert total.collected == sum(f.collected for _m, f in series) == 13


def test_it_gives_no_rate_without_a_denominator(world):
    f = metrics.figures(Demand.objects.all(), JANUARY)
    assert f == metrics.Figures(period=JANUARY)
    for rate in (
        f.resolution_rate,
        f.on_time_rate,
        f.satisfaction_rate,
        f.strict_satisfaction_rate,
        f.rating_rate,
        f.rework_rate,
    ):
        assert rate.value is None and str(rate) == "—"
    t = metrics.durations(Demand.objects.all(), JANUARY)
    assert t == metrics.Durations()


def test_it_gives_no_rate_when_everything_due_is_postponed(world):
    d = submit(world.household_a1, now=at(1, 5))
    Demand.objects.filter(pk=d.pk).update(deadline=at(1, 6), postponed=True)
    f = metrics.figures(Demand.objects.all(), JANUARY, now=NOW)
    assert (f.due, f.postponed, f.resolution_rate.value) == (1, 1, None)


def test_it_rounds_like_the_published_reports():
    # Tianmen, December 2016: 972 due, 911 resolved, 737 on time.
    assert str(Rate(911, 972)) == "93.72%"
    assert str(Rate(737, 972)) == "75.82%"
    assert Rate(911, 972).value == Fraction(911, 972)
    assert str(Rate(1, 8)) == "12.50%"  # 12.5 exactly
    assert str(Rate(1, 3)) == "33.33%"
    assert str(Rate(2, 3)) == "66.67%"
    assert str(Rate(1, 0)) == "—"


def test_it_needs_a_fixed_number_of_queries(world, story, django_assert_num_queries):
    demands = community_a(world)
    with django_assert_num_queries(2):
        metrics.figures(demands, JANUARY, now=NOW)
    with django_assert_num_queries(2):
        metrics.monthly(demands, now=NOW)
    with django_assert_num_queries(3):  # the aggregate, and one per median
        metrics.durations(demands, JANUARY, now=NOW)
    with django_assert_num_queries(4):
        metrics.breakdown(demands, JANUARY)


_moment = st.integers(min_value=0, max_value=24 * 120)  # hours from 1 November 2025


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            _moment,
            _moment,
            st.one_of(st.none(), _moment),
            st.sampled_from([State.SUBMITTED, State.IN_PROGRESS, State.MERGED, State.WITHDRAWN]),
            st.booleans(),
        ),
        max_size=12,
    )
)
def test_it_puts_every_demand_due_in_exactly_one_month(world, rows):
    """Whatever the times: the months add up to all time, and no rate passes 100%."""
    origin = dt.datetime(2025, 11, 1, tzinfo=SH)
    now = dt.datetime(2026, 2, 28, 12, tzinfo=SH)
    Demand.objects.all().delete()
    for created, deadline, resolved, state, postponed in rows:
        d = submit(world.household_a1, now=origin + dt.timedelta(hours=created))
        resolved_at = None if resolved is None else origin + dt.timedelta(hours=resolved)
        deadline_at = origin + dt.timedelta(hours=deadline)
        if resolved_at is not None and state in (State.SUBMITTED, State.IN_PROGRESS):
            state = State.RESOLVED
        Demand.objects.filter(pk=d.pk).update(
            state=state,
            deadline=deadline_at,
            resolved_at=resolved_at,
            postponed=postponed,
            resolved_on_time=None if resolved_at is None else resolved_at <= deadline_at,
        )
    demands = Demand.objects.all()
    series = metrics.monthly(demands, months=6, now=now)
    total = metrics.figures(demands, now=now)
    for name in ("due", "postponed", "resolved", "resolved_on_time", "collected"):
        assert getattr(total, name) == sum(getattr(f, name) for _m, f in series), name
    for _m, f in [*series, (None, total)]:
        assert f.resolved <= f.assessed and f.resolved_on_time <= f.resolved
