"""Working time (工作时间): which days are worked and when, for deadlines and SLA clocks.

A day is a workday when, in this order:

1. the table (:class:`~tongxin.workcal.models.CalendarDay`, kept by administrators) has
   an entry for it: HOLIDAY is a day off, WORKDAY is worked (调休上班);
2. else chinese-calendar knows its year (2004–2026 in 1.11): the library decides,
   public holidays and adjusted working days included;
3. else it is Monday to Friday. A year nobody has entered yet never breaks a
   deadline; :func:`missing_years` tells administrators to enter it.

Working hours come from ``settings.TONGXIN_WORKING_HOURS`` (default 08:30–12:00 and
14:00–17:30, seven hours a day). Everything is computed in ``settings.TIME_ZONE``
(Asia/Shanghai, which has no daylight saving time) and every datetime is aware.

Each public function reads the table once (never a query per day). Outside a
transaction the table is kept per process for :data:`CACHE_SECONDS`, and dropped at
once when a CalendarDay is saved or deleted in this process. Inside a transaction it is
read once and kept until that transaction commits or rolls back (or the savepoint it was
read in rolls back), so a transaction never works with a table from before it began and
a rollback leaves nothing stale; a write through the ORM in this process (save, delete,
the queryset's bulk writes) drops it at once, so a transaction sees its own writes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
from asgiref.local import Local
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from tongxin.workcal.models import CalendarDay

DEFAULT_WORKING_HOURS = (("08:30", "12:00"), ("14:00", "17:30"))
# No deadline lies further than this: a table that marks years as holidays must not
# make a computation scan for ever.
MAX_SCAN_DAYS = 3 * 366
# How long another worker process may keep using a table changed elsewhere.
CACHE_SECONDS = 60.0

ONE_DAY = dt.timedelta(days=1)
Period = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Table:
    """The administrators' entries: date -> is it worked, and the years they touch."""

    days: dict[dt.date, bool]
    years: frozenset[int]


_cached: tuple[float, Table] | None = None
# The table read in this thread's current transaction: (its on-commit hook, the
# generation it was read in, the table). Valid while the hook is still queued on the
# connection: committing runs the hooks and rolling back (the savepoint it was read
# in, or the whole transaction) discards them, so it never outlives its transaction.
_in_transaction = Local()
# Bumped by clear_cache(): a table read before a write in this process is void.
_generation = 0


def _load() -> Table:
    rows = CalendarDay.objects.values_list("date", "kind")
    days = {day: kind == CalendarDay.Kind.WORKDAY for day, kind in rows}
    return Table(days=days, years=frozenset(day.year for day in days))


def _table() -> Table:
    global _cached
    if connection.in_atomic_block:
        return _transaction_table()
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    table = _load()
    _cached = (now, table)
    return table


def _transaction_table() -> Table:
    """One read per transaction: a deadline, its warning time and the escalations of a
    sweep computed in one transaction all use the table as it read it."""
    kept = getattr(_in_transaction, "table", None)
    if kept is not None:
        hook, generation, table = kept
        if generation == _generation and any(f is hook for _s, f, _r in connection.run_on_commit):
            return table
    table = _load()

    def forget() -> None:
        if getattr(_in_transaction, "table", (None,))[0] is forget:
            _in_transaction.table = None

    connection.on_commit(forget)
    _in_transaction.table = (forget, _generation, table)
    return table


def clear_cache() -> None:
    global _cached, _generation
    _cached = None
    _generation += 1


def receive_change(**kwargs: object) -> None:
    """Signal receiver (see apps.py): a CalendarDay was saved or deleted."""
    clear_cache()


# --- chinese-calendar ---------------------------------------------------------------
@lru_cache(maxsize=256)
def library_knows(year: int) -> bool:
    """Whether chinese-calendar has the State Council's schedule for ``year``."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except Exception:  # NotImplementedError for unknown years; anything else alike
        return False
    return True


@lru_cache(maxsize=8192)
def _library_workday(day: dt.date) -> bool | None:
    # Cached: the library scans its whole table for the year range on every call.
    if not library_knows(day.year):
        return None
    try:
        return bool(chinese_calendar.is_workday(day))
    except Exception:
        return None


def library_adjustments(year: int) -> list[tuple[dt.date, bool, str]]:
    """chinese-calendar's holidays and worked weekend days of ``year``: (date, worked,
    Chinese name), by date. Empty for a year it does not know."""
    if not library_knows(year):
        return []
    names = {h.value: h.chinese for h in chinese_calendar.Holiday}
    found = [
        (day, worked, names.get(name, name))
        for source, worked in (
            (chinese_calendar.holidays, False),
            (chinese_calendar.workdays, True),
        )
        for day, name in source.items()
        if day.year == year
    ]
    return sorted(found)


# --- working hours ------------------------------------------------------------------
@lru_cache(maxsize=8)
def _parse_periods(raw: tuple[tuple[str | dt.time, str | dt.time], ...]) -> tuple[Period, ...]:
    def as_time(value: str | dt.time) -> dt.time:
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)

    try:
        periods = tuple((as_time(a), as_time(b)) for a, b in raw)
    except (TypeError, ValueError) as e:
        raise ImproperlyConfigured(f"TONGXIN_WORKING_HOURS: {e}") from e
    if not periods:
        raise ImproperlyConfigured("TONGXIN_WORKING_HOURS is empty")
    previous_end = dt.time.min
    for opens, closes in periods:
        if not previous_end <= opens < closes:
            raise ImproperlyConfigured(
                "TONGXIN_WORKING_HOURS must be ordered, non-overlapping (start, end) pairs"
            )
        previous_end = closes
    return periods


def working_periods() -> tuple[Period, ...]:
    """The working periods of a workday, in order: ((08:30, 12:00), (14:00, 17:30))."""
    raw = getattr(settings, "TONGXIN_WORKING_HOURS", DEFAULT_WORKING_HOURS)
    return _parse_periods(tuple(tuple(p) for p in raw))


def working_day_length() -> dt.timedelta:
    """The working time of one workday (7 hours by default)."""
    return sum((_minus(b, a) for a, b in working_periods()), dt.timedelta())


def _minus(later: dt.time, earlier: dt.time) -> dt.timedelta:
    day = dt.date(2000, 1, 1)
    return dt.datetime.combine(day, later) - dt.datetime.combine(day, earlier)


def _zone() -> ZoneInfo:
    # ZoneInfo(settings.TIME_ZONE), as Django keeps it (emptied when the setting changes):
    # a deadline asks for it a few dozen times.
    return timezone.get_default_timezone()


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("working time needs an aware datetime, got a naive one")
    return moment.astimezone(_zone())


def _at(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=_zone())


# --- days ---------------------------------------------------------------------------
def _is_workday(day: dt.date, table: Table) -> bool:
    entry = table.days.get(day)
    if entry is not None:
        return entry
    known = _library_workday(day)
    if known is not None:
        return known
    return day.weekday() < 5


def is_workday(day: dt.date) -> bool:
    """Whether ``day`` is worked: the table's entry, else chinese-calendar, else Mon–Fri.
    An aware datetime is taken as the day it falls on in Asia/Shanghai."""
    if isinstance(day, dt.datetime):
        day = _local(day).date()
    return _is_workday(day, _table())


def year_has_data(year: int) -> bool:
    """Whether the holidays of ``year`` are known: chinese-calendar covers it, or the
    table has at least one entry in it. So an administrator who enters next year's
    holidays makes that year known (and the home-page warning goes away)."""
    return library_knows(year) or year in _table().years


def missing_years(today: dt.date | None = None) -> list[int]:
    """This year and next year, those without data: deadlines there count only
    weekends as days off until an administrator enters the schedule."""
    today = today or dt.datetime.now(_zone()).date()
    return [year for year in (today.year, today.year + 1) if not year_has_data(year)]


def _too_far(what: str) -> ValueError:
    return ValueError(
        f"{what}: no such working time within {MAX_SCAN_DAYS} days; "
        "is the calendar table marking whole years as holidays?"
    )


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """The deadline ``days`` working days after ``start``.

    It is the END of working hours (17:30 by default) of the ``days``-th workday after
    the day of ``start``; the day of ``start`` itself never counts, whatever the hour:

    - Tuesday 10:00 + 1 → Wednesday 17:30;
    - Friday 20:00 + 1 → Monday 17:30 (or the next workday after a holiday);
    - Saturday 09:00 + 1 → Monday 17:30.

    ``days=0`` means "by the end of this working day": that day's closing time when
    ``start`` is on a workday before closing, else the next workday's closing time.
    Raises ValueError for negative ``days`` or a deadline beyond MAX_SCAN_DAYS.
    """
    if days < 0:
        raise ValueError(f"add_working_days: days must be >= 0, got {days}")
    table = _table()
    local = _local(start)
    closing = working_periods()[-1][1]
    day = local.date()
    if days == 0:
        if _is_workday(day, table) and local < _at(day, closing):
            return _at(day, closing)
        left = 1
    else:
        left = days
    for _ in range(MAX_SCAN_DAYS):
        day += ONE_DAY
        if _is_workday(day, table):
            left -= 1
            if left == 0:
                return _at(day, closing)
    raise _too_far(f"add_working_days({start.isoformat()}, {days})")


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """The instant when ``hours`` of working time have passed since ``start``.

    Only time inside working hours on workdays counts: Friday 16:30 + 2 hours is the
    next workday 09:30 (one hour on Friday, one from 08:30). Time that ends exactly at
    a closing time stays there (Friday 16:30 + 1 hour → Friday 17:30). ``hours=0``
    returns ``start``. Raises ValueError for negative hours or beyond MAX_SCAN_DAYS.
    """
    remaining = dt.timedelta(hours=hours)
    if remaining < dt.timedelta():
        raise ValueError(f"add_working_hours: hours must be >= 0, got {hours}")
    local = _local(start)
    if not remaining:
        return local
    table = _table()
    periods = working_periods()
    day = local.date()
    for _ in range(MAX_SCAN_DAYS):
        if _is_workday(day, table):
            for opens, closes in periods:
                begin, end = max(_at(day, opens), local), _at(day, closes)
                if begin >= end:
                    continue
                if remaining <= end - begin:
                    return begin + remaining
                remaining -= end - begin
        day += ONE_DAY
    raise _too_far(f"add_working_hours({start.isoformat()}, {hours})")


def working_time_between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """The working time from ``start`` to ``end`` (negative when ``end`` is earlier):
    what share of a deadline is used is ``working_time_between(created, now) /
    working_time_between(created, deadline)``."""
    if end < start:
        return -working_time_between(end, start)
    table = _table()
    periods = working_periods()
    a, b = _local(start), _local(end)
    total = dt.timedelta()
    day = a.date()
    while day <= b.date():
        if _is_workday(day, table):
            for opens, closes in periods:
                lo, hi = max(_at(day, opens), a), min(_at(day, closes), b)
                if hi > lo:
                    total += hi - lo
        day += ONE_DAY
    return total
