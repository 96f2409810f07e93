"""The daily rollup (日汇总): the board and the dashboards read their figures from here.

Counting a street's million demands afresh for every page is seconds of work; the
figures of a past day, though, only change when one of its demands changes. So:

- ``DayCount`` holds, per community, local day and category, the counts that
  tongxin.demands.metrics defines (and the state/channel/tier split of the demands
  collected that day), each counted on the day its own moment falls on.
- ``RollupState.rolled_through`` says up to which day the rows are there. Later days —
  today always — are counted live, by the same function that fills the table
  (:func:`compute`), over an indexed range of a day or two.
- Every change to a demand marks the past days it leaves or joins (:func:`touch`,
  called by tongxin.demands.actions for each event it writes) in ``DirtyDay``. A
  marked day is counted live until :func:`refresh` — queued every minute with the
  deadline sweep — counts it again and clears the mark.

So a reader always gets exactly what a full recount would give (tests/test_rollup.py
checks it after every kind of change), and a year of a street is a sum over a few
thousand rows. ``manage.py rollup --rebuild`` recounts everything, e.g. after a bulk
load that did not go through the actions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, DateField, F, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from tongxin.areas.models import Area, Level
from tongxin.demands import metrics
from tongxin.demands.metrics import Figures, Period
from tongxin.demands.models import (
    COUNTED_KINDS,
    DAYCOUNT_MIX,
    Category,
    Channel,
    DayCount,
    Demand,
    DemandEvent,
    DirtyDay,
    EventKind,
    RollupState,
    Satisfaction,
    State,
    Tier,
)

logger = logging.getLogger("tongxin.rollup")

FIGURE_COLUMNS = metrics.COUNTS  # the fields of metrics.Figures
DURATION_COLUMNS = ("responses", "response_us", "resolutions", "resolution_us")
COLUMNS = (*FIGURE_COLUMNS, *DURATION_COLUMNS, *DAYCOUNT_MIX)
_MIX = frozenset(DAYCOUNT_MIX)
# Beyond this many marked days (or community-days) in one read, the reader brings the
# table up to date first instead of counting them live.
MAX_LIVE_DAYS = 31
MAX_LIVE_PAIRS = 200
CACHE_SECONDS = 10 * 60
WRITE_BATCH = 2000

Key = tuple[int, dt.date, int]  # community, day, category


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=_tz())


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=_tz())


def _us(delta: dt.timedelta | None) -> int:
    if delta is None:
        return 0
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- counting ----------------------------------------------------------------------------
def compute(
    community_ids: Iterable[int] | None, first: dt.date, last: dt.date, now: dt.datetime
) -> dict[Key, Counter]:
    """The DayCount values of the days ``first``..``last`` (local) of the communities
    (None: all), as they stand at ``now``: six grouped queries, each over an indexed
    range of the days asked for."""
    ids = None if community_ids is None else list(community_ids)
    return compute_spans([(ids, first, last)], now)


def compute_days(pairs: Iterable[tuple[int, dt.date]], now: dt.datetime) -> dict[Key, Counter]:
    """The same for scattered (community, day) pairs — the marked days — in one go:
    still six queries, each over the pairs' ranges."""
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for cid, day in pairs:
        by_day[day].append(cid)
    return compute_spans([(cids, day, day) for day, cids in sorted(by_day.items())], now)


def compute_spans(
    spans: list[tuple[list[int] | None, dt.date, dt.date]], now: dt.datetime
) -> dict[Key, Counter]:
    rows: dict[Key, Counter] = defaultdict(Counter)
    if not spans:
        return rows
    demands = Demand.objects.order_by()
    events = DemandEvent.objects.order_by()
    single_days = sorted({first for _ids, first, last in spans if first == last})
    if len(single_days) < len({(first, last) for _ids, first, last in spans}):
        single_days = []  # some span is longer than a day

    def day_of(field: str):
        """The local day ``field`` falls on. When every span is one day (today, the
        marked days: what the pages count live), a CASE over those days' ranges — plain
        comparisons, where SQLite would otherwise call Django's Python date function
        once per row."""
        if not single_days:
            return _day(field)
        one = dt.timedelta(days=1)
        return Case(
            *[
                When(
                    Q(**{f"{field}__gte": _midnight(d), f"{field}__lt": _midnight(d + one)}),
                    then=Value(d),
                )
                for d in single_days
            ],
            output_field=DateField(),
        )

    def within(field: str, community: str = "community_id") -> Q:
        """Rows whose ``field`` falls on one of the spans' days, in its communities."""
        q = Q()
        for ids, first, last in spans:
            span = Q(
                **{
                    f"{field}__gte": _midnight(first),
                    f"{field}__lt": _midnight(last + dt.timedelta(days=1)),
                }
            )
            if ids is not None:
                span &= Q(**{f"{community}__in": ids})
            q |= span
        return q

    collected = demands.filter(within("created_at"), created_at__lt=now)
    for cid, cat, day, state, channel, tier, n in (
        collected.values_list(
            "community_id", "category_id", day_of("created_at"), "state", "channel", "tier"
        )
        .annotate(n=Count("pk"))
        .order_by()
    ):
        row = rows[cid, day, cat]
        row["collected"] += n
        # (A value since removed from the choices has no column: it counts as
        # collected, and in no split.)
        for column in (f"state_{state}", f"channel_{channel}", f"tier_{tier}"):
            if column in _MIX:
                row[column] += n

    resolved = Q(postponed=False) & metrics.resolved_by(now)
    for field, condition in metrics.DUE_MOMENTS:
        due = demands.filter(condition(now), within(field))
        for cid, cat, day, n, postponed, done, on_time in (
            due.values_list("community_id", "category_id", day_of(field))
            .annotate(
                n_due=Count("pk"),
                n_postponed=Count("pk", filter=Q(postponed=True)),
                n_resolved=Count("pk", filter=resolved),
                n_on_time=Count("pk", filter=resolved & Q(resolved_on_time=True)),
            )
            .order_by()
        ):
            row = rows[cid, day, cat]
            row["due"] += n
            row["postponed"] += postponed
            row["resolved"] += done
            row["resolved_on_time"] += on_time

    answered = demands.filter(within("first_response_at"), first_response_at__lt=now)
    for cid, cat, day, n, total in (
        answered.values_list("community_id", "category_id", day_of("first_response_at"))
        .annotate(n_answered=Count("pk"), total=Sum(metrics.RESPONSE_TIME))
        .order_by()
    ):
        row = rows[cid, day, cat]
        row["responses"] += n
        row["response_us"] += _us(total)

    closed = demands.filter(metrics.resolved_by(now), within("resolved_at"))
    for cid, cat, day, n, total in (
        closed.values_list("community_id", "category_id", day_of("resolved_at"))
        .annotate(n_closed=Count("pk"), total=Sum(metrics.RESOLUTION_TIME))
        .order_by()
    ):
        row = rows[cid, day, cat]
        row["resolutions"] += n
        row["resolution_us"] += _us(total)

    counted = events.filter(
        within("at", "demand__community_id"),
        at__lt=now,
        kind__constant_in=COUNTED_KINDS,
    )
    prefixes = {EventKind.VISITED: "visits", EventKind.RATED: "ratings"}
    for cid, cat, day, kind, satisfaction, n in (
        counted.values_list(
            "demand__community_id",
            "demand__category_id",
            day_of("at"),
            "kind",
            "data__satisfaction",
        )
        .annotate(n=Count("pk"))
        .order_by()
    ):
        row = rows[cid, day, cat]
        if kind == EventKind.REOPENED:
            row["rework"] += n
            continue
        prefix = prefixes[kind]
        row[prefix] += n
        if satisfaction in Satisfaction.values:
            row[f"{prefix}_{satisfaction}"] += n
    return rows


def _write(rows: dict[Key, Counter], clear: Q) -> None:
    """Replace the DayCount rows matching ``clear`` by ``rows`` (inside a transaction)."""
    DayCount.objects.filter(clear).delete()
    batch = [
        DayCount(community_id=cid, day=day, category_id=cat, **counts)
        for (cid, day, cat), counts in rows.items()
        if any(counts.values())
    ]
    DayCount.objects.bulk_create(batch, batch_size=WRITE_BATCH)


# --- marking and refreshing -----------------------------------------------------------------
def touch(demand: Demand, *moments: dt.datetime | None) -> int:
    """Mark the past days that ``demand`` counts on — as it was loaded and as it is now —
    and the given moments (an event's time), so that readers count them live until the
    next refresh. Today is always live and is not marked. One statement, or none."""
    loaded = getattr(demand, "_rollup_loaded", {})
    communities = {demand.community_id, loaded.get("community_id")} - {None}
    days = past_days(demand, *moments)
    remember(demand)
    return mark(communities, days)


def remember(demand: Demand) -> None:
    """The demand's rollup columns as they are now: what a later :func:`touch` compares
    with (as for a demand loaded from the database)."""
    demand._rollup_loaded = {a: demand.__dict__.get(a) for a in Demand.ROLLUP_ATTNAMES}


def past_days(demand: Demand, *moments: dt.datetime | None) -> set[dt.date]:
    """The past days :func:`touch` would mark now (none for a demand taken in today)."""
    today = timezone.localdate()
    loaded = getattr(demand, "_rollup_loaded", {})
    days = set()
    for attname in Demand.ROLLUP_ATTNAMES[1:]:
        for value in (loaded.get(attname), demand.__dict__.get(attname)):
            if value is not None:
                days.add(timezone.localdate(value))
    days |= {timezone.localdate(m) for m in moments if m is not None}
    return {d for d in days if d < today}


def mark(community_ids: Iterable[int], days: Iterable[dt.date]) -> int:
    now = timezone.now()
    marks = [DirtyDay(community_id=c, day=d, marked_at=now) for c in community_ids for d in days]
    if marks:
        DirtyDay.objects.bulk_create(
            marks,
            update_conflicts=True,
            unique_fields=["community", "day"],
            update_fields=["marked_at"],
        )
    return len(marks)


def rolled_through() -> dt.date | None:
    return RollupState.objects.filter(pk=1).values_list("rolled_through", flat=True).first()


def _locked_state() -> RollupState:
    """The state row, locked until the end of the transaction; made on first use."""
    try:
        with transaction.atomic():
            RollupState.objects.get_or_create(pk=1)
    except IntegrityError:  # made by another process at the same moment
        pass
    return RollupState.objects.select_for_update().get(pk=1)


def _first_day() -> dt.date | None:
    first = Demand.objects.order_by("created_at").values_list("created_at", flat=True).first()
    return timezone.localdate(first) if first else None


def refresh(now: dt.datetime | None = None) -> tuple[int, int]:
    """Bring the table up to date: count the complete days not yet rolled, then recount
    the marked days. Returns (days rolled, marked days recounted). Safe to run from
    several processes at once: the state row and the marks are taken under lock."""
    now = now or timezone.now()
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    rolled = 0
    done = rolled_through()
    first = done + dt.timedelta(days=1) if done else _first_day()
    if first is not None and first <= yesterday:
        # Counted outside the write transaction (it may be a long range); any change
        # meanwhile marks its days, which the next step or the next refresh recounts.
        rows = compute(None, first, yesterday, now)
        with transaction.atomic():
            state = _locked_state()
            if state.rolled_through == done:
                _write(rows, Q(day__gte=first, day__lte=yesterday))
                state.rolled_through = yesterday
                if done is None:
                    state.rebuilt_at = now
                state.version += 1
                state.save()
                rolled = (yesterday - first).days + 1
        done = yesterday if rolled else rolled_through()
    recounted = 0
    if done is not None:
        with transaction.atomic():
            marks = list(DirtyDay.objects.select_for_update().filter(day__lte=done).order_by("day"))
            days = sorted({m.day for m in marks})
            for i in range(0, len(days), MAX_LIVE_DAYS):  # bounded statements
                chunk = days[i : i + MAX_LIVE_DAYS]
                # Every marked community on every day of the chunk (a few more than
                # marked, perhaps): one statement to clear, six to count.
                cids = sorted({m.community_id for m in marks if m.day in set(chunk)})
                pairs = [(cid, day) for cid in cids for day in chunk]
                _write(compute_days(pairs, now), Q(day__in=chunk, community_id__in=cids))
            DirtyDay.objects.filter(pk__in=[m.pk for m in marks]).delete()
            recounted = len(marks)
            if marks:  # the sums cached before are of other rows now
                RollupState.objects.filter(pk=1).update(version=F("version") + 1)
    # Marks of days not rolled yet are moot: those days are counted live, then rolled.
    if done is not None:
        DirtyDay.objects.filter(day__gt=done).delete()
    if rolled or recounted:
        logger.info("rollup: %d days rolled, %d marked days recounted", rolled, recounted)
    return rolled, recounted


def rebuild(now: dt.datetime | None = None) -> int:
    """Count every day again from the demands (after a bulk load, or to check)."""
    now = now or timezone.now()
    yesterday = timezone.localdate(now) - dt.timedelta(days=1)
    first = _first_day()
    rows = compute(None, first, yesterday, now) if first and first <= yesterday else {}
    with transaction.atomic():
        state = _locked_state()
        _write(rows, Q())
        DirtyDay.objects.all().delete()
        state.rolled_through = yesterday
        state.rebuilt_at = now
        state.version += 1
        state.save()
    return len(rows)


# --- reading ---------------------------------------------------------------------------------
def community_ids(area: Area | None) -> list[int] | None:
    """The communities whose demands are ``area``'s: None for everything (no area), and
    None too below a community (a grid): the rollup does not split communities, so those
    callers count live."""
    if area is None:
        return list(Area.objects.filter(level=Level.COMMUNITY).values_list("pk", flat=True))
    if area.level == Level.COMMUNITY:
        return [area.pk]
    if area.depth > _community_depth():
        return None
    return list(
        Area.objects.within(area).filter(level=Level.COMMUNITY).values_list("pk", flat=True)
    )


def _community_depth() -> int:
    depth = Area.objects.filter(level=Level.COMMUNITY).values_list("depth", flat=True).first()
    return depth if depth is not None else 10**6


# The dimensions a read can group by: each with its SQL column (of DayCount, or the
# month annotation) and how to find it in a computed (community, day, category) key.
DIMENSIONS = {
    "community": ("community_id", lambda cid, day, cat: cid),
    "category": ("category_id", lambda cid, day, cat: cat),
    "month": ("month", lambda cid, day, cat: day.replace(day=1)),
}


def totals(
    communities: list[int],
    first: dt.date,
    last: dt.date,
    *,
    by: tuple[str, ...] = (),
    now: dt.datetime | None = None,
) -> dict[tuple, Counter]:
    """The summed DayCount columns of the days ``first``..``last`` of ``communities``,
    grouped by the dimensions in ``by`` ("community", "category", "month" — the first
    day of the month); keys are tuples in that order (``()`` for no grouping). The
    rolled days come from the table, the rest are counted live."""
    return totals_many(communities, [(first, last, by)], now=now)[0]


def totals_many(
    communities: list[int],
    asks: list[tuple[dt.date, dt.date, tuple[str, ...]]],
    *,
    now: dt.datetime | None = None,
) -> list[dict[tuple, Counter]]:
    """:func:`totals` for several (first, last, by) at once, as a page needs them: the
    live counts (today, and any marked day) are made once for all, six queries, and the
    sums of the rolled days are cached under the rollup's version, so a page that is
    asked again before anything changed reads them from the cache."""
    now = now or timezone.now()
    results: list[dict[tuple, Counter]] = [defaultdict(Counter) for _ask in asks]
    if not communities or not asks:
        return results
    span_first = min(ask[0] for ask in asks)
    span_last = max(ask[1] for ask in asks)
    state = RollupState.objects.filter(pk=1).values_list("rolled_through", "version").first()
    done, version = state if state else (None, 0)
    dirty: list[tuple[int, dt.date]] = []
    if done is not None and span_first <= done:
        dirty = sorted(
            DirtyDay.objects.filter(
                community_id__in=communities, day__gte=span_first, day__lte=min(span_last, done)
            ).values_list("community_id", "day")
        )
        if len({d for _c, d in dirty}) > MAX_LIVE_DAYS or len(dirty) > MAX_LIVE_PAIRS:
            refresh(now)
            return totals_many(communities, asks, now=now)
    live = compute_days(dirty, now)
    live_first = span_first if done is None else max(span_first, done + dt.timedelta(days=1))
    # Every moment counted lies before ``now``: days after today count nothing. (So the
    # usual live part is today alone, one day, counted without a date function.)
    live_last = min(span_last, timezone.localdate(now))
    if live_first <= live_last:
        live.update(compute(communities, live_first, live_last, now))
    for result, (first, last, by) in zip(results, asks, strict=True):
        if first > last:
            continue
        getters = [DIMENSIONS[d][1] for d in by]
        if done is not None and first <= done:
            stored_last = min(last, done)
            mine = [(c, d) for c, d in dirty if first <= d <= stored_last]
            for key, counts in _stored(communities, first, stored_last, by, mine, version):
                result[key].update(counts)
        for (cid, day, cat), counts in live.items():
            if first <= day <= last:
                result[tuple(g(cid, day, cat) for g in getters)].update(counts)
    return results


def _stored(communities, first, last, by, dirty, version) -> list[tuple[tuple, dict]]:
    """The sums of the rolled days (without the marked ones), from the cache when the
    same sums were asked since the rollup last changed (``version``)."""
    ask = (sorted(communities), first, last, by, dirty, version)
    key = "rollup:" + hashlib.sha256(repr(ask).encode()).hexdigest()
    rows = cache.get(key)
    if rows is not None:
        return rows
    stored = DayCount.objects.filter(community_id__in=communities, day__gte=first, day__lte=last)
    for cid, day in dirty:
        stored = stored.exclude(community_id=cid, day=day)
    if "month" in by:
        stored = stored.annotate(month=_month_of_day(first, last))
    sql_keys = [DIMENSIONS[d][0] for d in by]
    sums = {c: Sum(c) for c in COLUMNS}
    if sql_keys:
        grouped = stored.order_by().values(*sql_keys).annotate(**sums).order_by()
    else:
        grouped = [stored.order_by().aggregate(**sums)]
    rows = [
        (tuple(row[k] for k in sql_keys), {c: row[c] for c in COLUMNS if row[c]}) for row in grouped
    ]
    cache.set(key, rows, CACHE_SECONDS)
    return rows


def _month_of_day(first: dt.date, last: dt.date) -> Case:
    """The first day of the month of DayCount.day, for the days ``first``..``last``: a
    CASE over the months' ranges (SQLite would call Python's date function per row for
    TruncMonth)."""
    months, start = [], first.replace(day=1)
    while start <= last:
        months.append(start)
        start = month_end(start) + dt.timedelta(days=1)
    return Case(
        *[When(day__gte=m, day__lte=month_end(m), then=Value(m)) for m in months],
        output_field=DateField(),
    )


def regroup(result: dict[tuple, Counter], positions: tuple[int, ...], where=None) -> dict:
    """Sum ``result`` (from totals) down to the key parts at ``positions`` — () for one
    total — over the keys for which ``where(key)`` holds (all by default)."""
    out: dict = defaultdict(Counter)
    for key, counts in result.items():
        if where is None or where(key):
            out[tuple(key[i] for i in positions)].update(counts)
    return out


def _add(result: dict, rows: dict[Key, Counter], key_of) -> None:
    for (cid, day, cat), counts in rows.items():
        result[key_of(cid, day, cat)].update(counts)


def to_figures(counts: Counter, period: Period) -> Figures:
    return Figures(period=period, **{c: counts.get(c, 0) for c in FIGURE_COLUMNS})


def mean_days(counts: Counter) -> float | None:
    """办结时长 (intake to resolution), the mean in days over the demands resolved in the
    days counted; None when none was."""
    n = counts.get("resolutions", 0)
    if not n:
        return None
    return round(counts["resolution_us"] / n / 1_000_000 / 86_400, 1)


# --- what the pages ask -----------------------------------------------------------------------
def figures(communities: list[int], first: dt.date, last: dt.date, now=None) -> Figures:
    counts = totals(communities, first, last, now=now).get((), Counter())
    return to_figures(counts, Period.days(first, last))


def month_starts(now: dt.datetime, months: int = 12) -> list[dt.date]:
    """The first days of the last ``months`` calendar months up to this one, oldest first."""
    starts = [timezone.localdate(now).replace(day=1)]
    for _i in range(months - 1):
        starts.append((starts[-1] - dt.timedelta(days=1)).replace(day=1))
    return starts[::-1]


def month_end(start: dt.date) -> dt.date:
    return (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def monthly_figures(by_month: dict, starts: list[dt.date]) -> list[tuple[dt.date, Figures]]:
    """As metrics.monthly, from totals grouped by month (keys (month,))."""
    return [
        (m, to_figures(by_month.get((m,), Counter()), Period.month(m.year, m.month)))
        for m in starts
    ]


def monthly(
    communities: list[int], *, months: int = 12, now: dt.datetime | None = None
) -> list[tuple[dt.date, Figures]]:
    """As metrics.monthly: the last ``months`` calendar months, oldest first."""
    now = now or timezone.now()
    starts = month_starts(now, months)
    counted = totals(communities, starts[0], month_end(starts[-1]), by=("month",), now=now)
    return monthly_figures(counted, starts)


def breakdown(counts_by_category: dict, total: Counter) -> metrics.Breakdown:
    """metrics.Breakdown from the collected columns: by category (totals keyed
    (category,)), and by state, channel and tier from ``total``."""
    names = dict(Category.objects.values_list("pk", "name"))
    by_category = sorted(
        (
            metrics.Share(pk, names.get(pk, str(pk)), c["collected"])
            for (pk,), c in counts_by_category.items()
            if c.get("collected")
        ),
        key=lambda s: (-s.count, s.label),
    )
    return metrics.Breakdown(
        by_category=by_category,
        by_state=[
            metrics.Share(s.value, str(s.label), total[f"state_{s.value}"])
            for s in State
            if total.get(f"state_{s.value}")
        ],
        by_channel=sorted(
            (
                metrics.Share(c.value, str(c.label), total[f"channel_{c.value}"])
                for c in Channel
                if total.get(f"channel_{c.value}")
            ),
            key=lambda s: (-s.count, s.label),
        ),
        by_tier=[
            metrics.Share(t.value, str(t.label), total[f"tier_{t.value}"])
            for t in Tier
            if total.get(f"tier_{t.value}")
        ],
    )
