"""The demand's clock: when its time limit started, when it turns yellow, its deadline.

Time is counted in working time on the calendar of :mod:`tongxin.workcal` (weekends,
public holidays, adjusted working days); a year the calendar has no data for falls back
to weekends there, so a deadline is always computed."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from tongxin.workcal import calendar as workcal

# Yellow (预警) once this share of the working time allowed has been used.
WARN_SHARE = float(getattr(settings, "TONGXIN_WARN_SHARE", 0.75))


def deadline_after(now: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit == "hours":
        return workcal.add_working_hours(now, amount)
    return workcal.add_working_days(now, amount)


def warn_time(started: dt.datetime, deadline: dt.datetime) -> dt.datetime:
    allowed = workcal.working_time_between(started, deadline)
    return workcal.add_working_hours(started, allowed.total_seconds() / 3600 * WARN_SHARE)


def start(demand, now: dt.datetime, amount: int, unit: str) -> None:
    """(Re)start the clock with a limit of ``amount`` working days or hours."""
    demand.clock_started_at = now
    demand.deadline = deadline_after(now, amount, unit)
    demand.warn_at = warn_time(now, demand.deadline)


def start_until(demand, now: dt.datetime, day: dt.date) -> None:
    """Restart the clock with the end of ``day``'s working hours as the deadline."""
    closes = workcal.working_periods()[-1][1]
    end = dt.datetime.combine(day, closes, tzinfo=timezone.get_current_timezone())
    demand.clock_started_at = now
    demand.deadline = max(end, now)
    demand.warn_at = warn_time(now, demand.deadline)


def share_used(demand, now: dt.datetime | None = None) -> float:
    """How much of the allowed working time is gone: 0.0 … 1.0 and beyond when late."""
    if demand.deadline is None or demand.clock_started_at is None:
        return 0.0
    now = now or timezone.now()
    allowed = workcal.working_time_between(demand.clock_started_at, demand.deadline)
    if allowed.total_seconds() <= 0:
        return 1.0
    used = workcal.working_time_between(demand.clock_started_at, now)
    if now > demand.deadline:
        return 1.0 + (now - demand.deadline).total_seconds() / max(allowed.total_seconds(), 1)
    return used / allowed
