"""Four demands of March 2026 in the test world (three in community A, one in B), and an
independent recount of the indicators in plain Python over the rows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import time_machine

from tongxin.demands import actions
from tongxin.demands.metrics import Period
from tongxin.demands.models import DONE_STATES, Demand, DemandEvent, EventKind, Satisfaction, State
from tongxin.demands.testing import category, submit

SH = ZoneInfo("Asia/Shanghai")
MARCH = Period.month(2026, 3)
NOW = dt.datetime(2026, 3, 25, 12, 0, tzinfo=SH)


def at(day: int, hour: int = 9, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=SH)


def new(world, created, deadline, *, area=None, code="environment", title="楼道堆放杂物", **kw):
    d = submit(area or world.household_a1, now=created, category=category(code), title=title, **kw)
    Demand.objects.filter(pk=d.pk).update(deadline=deadline, first_deadline=deadline)
    d.refresh_from_db()
    return d


def handle(world, d, dispatched, resolved):
    with time_machine.travel(dispatched, tick=False):
        actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
    return actions.resolve_demand(
        d, by=world.grid_worker_a, answer="已清理，联系电话13800001234。", now=resolved
    )


def visit(world, d, when, satisfaction):
    with time_machine.travel(when, tick=False):
        return actions.record_return_visit(d, by=world.worker_a, satisfaction=satisfaction)


def march(world) -> dict[str, Demand]:
    d = {}
    d["a1"] = new(world, at(2), at(6))
    handle(world, d["a1"], at(2, 10), at(4))
    visit(world, d["a1"], at(5), Satisfaction.SATISFIED)
    lamp = "小区路灯坏了，晚上很黑。"
    d["a2"] = new(world, at(3), at(10), code="property", title="路灯不亮", description=lamp)
    handle(world, d["a2"], at(3, 10), at(12))
    visit(world, d["a2"], at(13), Satisfaction.DISSATISFIED)  # rework, open again
    d["a3"] = new(
        world, at(20), at(1, month=4), area=world.household_a2, title="路灯不亮", description=lamp
    )
    d["b1"] = new(world, at(5), at(9), area=world.household_b1)
    return d


def recount(demands, period: Period = MARCH, now: dt.datetime = NOW) -> dict:
    """The indicators of docs/metrics.md, counted row by row without the ORM's help."""
    rows = list(demands)
    start, end = period.start, period.end

    def within(moment):
        return moment is not None and start <= moment < end and moment < now

    due = resolved = on_time = 0
    for d in rows:
        if d.state in (State.MERGED, State.WITHDRAWN):
            continue
        done = d.state in DONE_STATES and d.resolved_at is not None and d.resolved_at < now
        in_time = done and (d.deadline is None or d.resolved_at <= d.deadline)
        if in_time:
            falls = d.resolved_at
        elif d.deadline is not None and d.deadline < now:
            falls = d.deadline
        else:
            continue
        if within(falls):
            due += 1
            if done and not d.postponed:
                resolved += 1
                on_time += bool(d.resolved_on_time)
    events = [
        e for e in DemandEvent.objects.filter(demand__in=[d.pk for d in rows]) if within(e.at)
    ]
    visits = [e for e in events if e.kind == EventKind.VISITED]
    good = [
        e
        for e in visits
        if e.data.get("satisfaction") in (Satisfaction.SATISFIED, Satisfaction.BASICALLY)
    ]
    return {
        "collected": sum(within(d.created_at) for d in rows),
        "due": due,
        "resolved": resolved,
        "resolved_on_time": on_time,
        "visits": len(visits),
        "visits_good": len(good),
        "rework": sum(e.kind == EventKind.REOPENED for e in events),
    }
