"""The figures of the demand loop (办理指标): one definition each, for any set of demands
(already scoped by the caller) and any period. docs/metrics.md states every definition
with a worked example; tests/test_metrics.py checks them against hand-computed cases.

Every function runs a fixed number of queries, whatever the number of rows: the counts
are conditional aggregates, and a median fetches only the middle row or two.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from tongxin.demands.models import (
    COUNTED_KINDS,
    DONE_STATES,
    Channel,
    DemandEvent,
    EventKind,
    Satisfaction,
    State,
    Tier,
)

# Never due: a merged duplicate is answered (and counted) as the demand it joined, and a
# withdrawn one no longer asks for anything. Both still count as collected.
NOT_DUE_STATES = (State.MERGED, State.WITHDRAWN)

RESPONSE_TIME = ExpressionWrapper(F("first_response_at") - F("created_at"), DurationField())
RESOLUTION_TIME = ExpressionWrapper(F("resolved_at") - F("created_at"), DurationField())


# --- rates and periods ---------------------------------------------------------------
@dataclass(frozen=True)
class Rate:
    """A ratio that remembers its parts, so a page can show 911/972 beside 93.72%.
    With nothing to divide by there is no rate: ``value`` is None and it prints "—"."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        if self.denominator <= 0:
            return None
        return Fraction(self.numerator, self.denominator)

    def percent(self, places: int = 2) -> Decimal | None:
        """93.72 for 911/972: rounded half up, as published reports round."""
        if self.value is None:
            return None
        exact = Decimal(self.numerator) * 100 / Decimal(self.denominator)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        pct = self.percent()
        return "—" if pct is None else f"{pct}%"


@dataclass(frozen=True)
class Period:
    """[start, end) in time; either side may be open (None = no bound)."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @classmethod
    def days(cls, first: dt.date | None, last: dt.date | None) -> Period:
        """From the local midnight that begins ``first`` to the one that ends ``last``."""
        return cls(
            _midnight(first) if first else None,
            _midnight(last + dt.timedelta(days=1)) if last else None,
        )

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = dt.date(year, month, 1)
        return cls(_midnight(first), _midnight(_next_month(first)))

    def q(self, field: str) -> Q:
        """The rows whose ``field`` falls in the period."""
        q = Q()
        if self.start is not None:
            q &= Q(**{f"{field}__gte": self.start})
        if self.end is not None:
            q &= Q(**{f"{field}__lt": self.end})
        return q


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


# --- the definitions, as conditions on a demand row -----------------------------------
def resolved_by(now: dt.datetime) -> Q:
    """Resolved (已办结 or 已回访) before ``now``. A demand reopened after a 不满意
    return visit has lost its resolution time and is open again."""
    return Q(state__in=DONE_STATES, resolved_at__isnull=False, resolved_at__lt=now)


def due_on_resolution(now: dt.datetime) -> Q:
    """The demands that fell due when they were resolved: in time (or with no deadline)."""
    in_time = resolved_by(now) & (Q(deadline__isnull=True) | Q(resolved_at__lte=F("deadline")))
    return ~Q(state__in=NOT_DUE_STATES) & in_time


def due_at_deadline(now: dt.datetime) -> Q:
    """The demands that fell due at their deadline: it has passed, and they were not
    resolved by then (late, or not at all)."""
    # Written out rather than negating the in-time condition: a negated comparison with
    # a NULL column is neither true nor false in SQL, and the two must cover every row.
    late_or_open = (
        ~Q(state__in=DONE_STATES)
        | Q(resolved_at__isnull=True)
        | Q(resolved_at__gte=now)
        | Q(deadline__isnull=False, resolved_at__gt=F("deadline"))
    )
    return ~Q(state__in=NOT_DUE_STATES) & late_or_open & Q(deadline__lt=now)


# The moment each kind of due demand falls due, for counting by period or by day.
DUE_MOMENTS = (("resolved_at", due_on_resolution), ("deadline", due_at_deadline))


def due_in(period: Period, now: dt.datetime) -> Q:
    """Due (应结案) in the period: the moment a demand falls due is its resolution when
    that came no later than its deadline, else its deadline, once that has passed.

    So every demand falls due in exactly one period: early work counts when it is done,
    late and unfinished work when the time ran out."""
    return (due_on_resolution(now) & period.q("resolved_at")) | (
        due_at_deadline(now) & period.q("deadline")
    )


# --- the counts -----------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    """The counts of one period and the indicators made from them."""

    period: Period
    collected: int = 0  # 受理数
    due: int = 0  # 应结案数
    postponed: int = 0  # 缓办数
    resolved: int = 0  # 结案数
    resolved_on_time: int = 0  # 按期结案数
    visits: int = 0  # 回访数
    visits_satisfied: int = 0
    visits_basically: int = 0
    visits_dissatisfied: int = 0
    ratings: int = 0  # 居民评价数
    ratings_satisfied: int = 0
    ratings_basically: int = 0
    ratings_dissatisfied: int = 0
    rework: int = 0  # 返工数

    @property
    def assessed(self) -> int:
        """应结案数 − 缓办数: the denominator of the resolution rates."""
        return self.due - self.postponed

    @property
    def resolution_rate(self) -> Rate:
        """结案率 (办结率) = 结案数 ÷ (应结案数 − 缓办数)."""
        return Rate(self.resolved, self.assessed)

    @property
    def on_time_rate(self) -> Rate:
        """按期结案率 = 按期结案数 ÷ (应结案数 − 缓办数)."""
        return Rate(self.resolved_on_time, self.assessed)

    @property
    def satisfaction_rate(self) -> Rate:
        """满意率 = (满意 + 基本满意) ÷ 回访数: the rate the pages show."""
        return Rate(self.visits_satisfied + self.visits_basically, self.visits)

    @property
    def strict_satisfaction_rate(self) -> Rate:
        """满意率（严格） = 满意 ÷ 回访数."""
        return Rate(self.visits_satisfied, self.visits)

    @property
    def rating_rate(self) -> Rate:
        """居民评价满意率 = (满意 + 基本满意) ÷ 居民评价数, from the residents' own ratings."""
        return Rate(self.ratings_satisfied + self.ratings_basically, self.ratings)

    @property
    def rework_rate(self) -> Rate:
        """返工率 = 返工数 ÷ 结案数."""
        return Rate(self.rework, self.resolved)


_DEMAND_COUNTS = ("collected", "due", "postponed", "resolved", "resolved_on_time")
_EVENT_COUNTS = (
    "visits",
    "visits_satisfied",
    "visits_basically",
    "visits_dissatisfied",
    "ratings",
    "ratings_satisfied",
    "ratings_basically",
    "ratings_dissatisfied",
    "rework",
)


COUNTS = (*_DEMAND_COUNTS, *_EVENT_COUNTS)


def _demand_aggregates(key: str, period: Period, now: dt.datetime) -> dict[str, Count]:
    due = due_in(period, now)
    resolved = due & Q(postponed=False) & resolved_by(now)
    conditions = {
        "collected": period.q("created_at") & Q(created_at__lt=now),
        "due": due,
        "postponed": due & Q(postponed=True),
        "resolved": resolved,
        "resolved_on_time": resolved & Q(resolved_on_time=True),
    }
    return {f"{key}__{name}": Count("pk", filter=q) for name, q in conditions.items()}


def _event_aggregates(key: str, period: Period, now: dt.datetime) -> dict[str, Count]:
    when = period.q("at") & Q(at__lt=now)
    conditions = {"rework": when & Q(kind=EventKind.REOPENED)}
    for prefix, kind in (("visits", EventKind.VISITED), ("ratings", EventKind.RATED)):
        q = when & Q(kind=kind)
        conditions[prefix] = q
        for suffix, value in (
            ("satisfied", Satisfaction.SATISFIED),
            ("basically", Satisfaction.BASICALLY),
            ("dissatisfied", Satisfaction.DISSATISFIED),
        ):
            conditions[f"{prefix}_{suffix}"] = q & Q(data__satisfaction=value)
    return {f"{key}__{name}": Count("pk", filter=q) for name, q in conditions.items()}


def _count(demands: QuerySet, periods: dict[str, Period], now: dt.datetime) -> dict[str, Figures]:
    """The figures of several periods at once: two queries, one over the demands and one
    over their return visits, ratings and reopenings."""
    demand_aggs: dict[str, Count] = {}
    event_aggs: dict[str, Count] = {}
    for key, period in periods.items():
        demand_aggs |= _demand_aggregates(key, period, now)
        event_aggs |= _event_aggregates(key, period, now)
    counts = demands.order_by().aggregate(**demand_aggs)
    events = DemandEvent.objects.filter(
        demand__in=demands.order_by().values("pk"),
        kind__constant_in=COUNTED_KINDS,
    )
    counts |= events.order_by().aggregate(**event_aggs)
    return {
        key: Figures(
            period=period,
            **{name: counts[f"{key}__{name}"] for name in COUNTS},
        )
        for key, period in periods.items()
    }


def figures(
    demands: QuerySet, period: Period | None = None, *, now: dt.datetime | None = None
) -> Figures:
    """The counts and rates of ``demands`` for ``period`` (default: all time), as they
    stand at ``now`` (default: this moment). Two queries."""
    return _count(demands, {"p": period or Period()}, now or timezone.now())["p"]


def monthly(
    demands: QuerySet, *, months: int = 12, now: dt.datetime | None = None
) -> list[tuple[dt.date, Figures]]:
    """The last ``months`` calendar months up to and including the current one, oldest
    first, each as (first day, figures). Two queries, whatever the number of months."""
    now = now or timezone.now()
    first = timezone.localdate(now).replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        previous = starts[-1] - dt.timedelta(days=1)
        starts.append(previous.replace(day=1))
    starts.reverse()
    periods = {f"m{i}": Period.month(d.year, d.month) for i, d in enumerate(starts)}
    counted = _count(demands, periods, now)
    return [(d, counted[f"m{i}"]) for i, d in enumerate(starts)]


# --- times ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Durations:
    """Wall-clock hours (nights and holidays included) from intake to the first response
    (响应时长) and to the resolution (办结时长); None when no demand has one."""

    responses: int = 0
    response_median: float | None = None
    response_mean: float | None = None
    resolutions: int = 0
    resolution_median: float | None = None
    resolution_mean: float | None = None


def _hours(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / 3600


def _median(rows: QuerySet, expression, n: int) -> float | None:
    """The median of ``expression`` over ``n`` rows: the database sorts, and only the
    middle one or two values travel, so memory stays flat however many rows there are."""
    if n == 0:
        return None
    middle = list(
        rows.annotate(_d=expression)
        .order_by("_d")
        .values_list("_d", flat=True)[(n - 1) // 2 : n // 2 + 1]
    )
    return sum(_hours(d) for d in middle) / len(middle)


def durations(
    demands: QuerySet, period: Period | None = None, *, now: dt.datetime | None = None
) -> Durations:
    """Response time over the demands first answered in the period, resolution time over
    those resolved in it. One query, and one more for each median."""
    period = period or Period()
    now = now or timezone.now()
    responded = Q(first_response_at__isnull=False, first_response_at__lt=now) & period.q(
        "first_response_at"
    )
    resolved = resolved_by(now) & period.q("resolved_at")
    demands = demands.order_by()
    agg = demands.aggregate(
        responses=Count("pk", filter=responded),
        response_mean=Avg(RESPONSE_TIME, filter=responded),
        resolutions=Count("pk", filter=resolved),
        resolution_mean=Avg(RESOLUTION_TIME, filter=resolved),
    )
    return Durations(
        responses=agg["responses"],
        response_median=_median(demands.filter(responded), RESPONSE_TIME, agg["responses"]),
        response_mean=_hours(agg["response_mean"]),
        resolutions=agg["resolutions"],
        resolution_median=_median(demands.filter(resolved), RESOLUTION_TIME, agg["resolutions"]),
        resolution_mean=_hours(agg["resolution_mean"]),
    )


# --- breakdowns ------------------------------------------------------------------------
@dataclass(frozen=True)
class Share:
    key: str | int
    label: str
    count: int


@dataclass(frozen=True)
class Breakdown:
    """The demands collected in a period by category, current state, channel and tier;
    most first (states and tiers in their own order)."""

    by_category: list[Share]
    by_state: list[Share]
    by_channel: list[Share]
    by_tier: list[Share]


def _grouped(collected: QuerySet, field: str) -> list[tuple[str | int, int]]:
    return list(collected.values_list(field).annotate(n=Count("pk")).order_by())


def breakdown(demands: QuerySet, period: Period | None = None) -> Breakdown:
    """Four queries, one per grouping."""
    collected = demands.filter((period or Period()).q("created_at")).order_by()
    categories = collected.values_list("category_id", "category__name").annotate(n=Count("pk"))
    by_category = sorted(
        (Share(pk, name, n) for pk, name, n in categories.order_by()),
        key=lambda s: (-s.count, s.label),
    )
    states = dict(_grouped(collected, "state"))
    tiers = dict(_grouped(collected, "tier"))
    channels = _grouped(collected, "channel")
    return Breakdown(
        by_category=by_category,
        by_state=[
            Share(s.value, str(s.label), states[s.value]) for s in State if s.value in states
        ],
        by_channel=sorted(
            (Share(c, _label(Channel, c), n) for c, n in channels),
            key=lambda s: (-s.count, s.label),
        ),
        by_tier=[Share(t.value, str(t.label), tiers[t.value]) for t in Tier if t.value in tiers],
    )


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a channel since removed from the code: show what is stored
        return str(value)


# --- everything at once ------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    figures: Figures
    durations: Durations
    breakdown: Breakdown
    monthly: list[tuple[dt.date, Figures]]


def report(
    demands: QuerySet, period: Period | None = None, *, now: dt.datetime | None = None
) -> Report:
    """All of the above for one set of demands: at most twelve queries."""
    now = now or timezone.now()
    return Report(
        figures=figures(demands, period, now=now),
        durations=durations(demands, period, now=now),
        breakdown=breakdown(demands, period),
        monthly=monthly(demands, now=now),
    )
