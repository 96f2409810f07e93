"""The figures a dashboard shows, each from tongxin.demands.metrics over the demands of
the user's scope, and the ledger query behind each one (the drill-down).

The ledger filters by intake date, area, category, state, tier, channel and traffic
light, so the counts of demands collected (overall, per community, per category,
channel and tier) and the open red and yellow counts link to exactly the rows behind
them. The rates count demands by when they fell due, which the ledger cannot filter;
they link to the community's ledger for the month, the nearest view it has.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import reverse

from tongxin.accounts.scope import Scope
from tongxin.areas.models import Area, Level
from tongxin.demands import metrics, rollup
from tongxin.demands.metrics import Figures, Period


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of ``month`` (any date in it)."""
    first = month.replace(day=1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def ledger_url(first: dt.date | None = None, last: dt.date | None = None, **filters) -> str:
    """The ledger filtered as given: its own parameter names (views_ledger.LedgerFilterForm)."""
    params = {k: v for k, v in filters.items() if v not in (None, "")}
    if first:
        params["date_from"] = first.isoformat()
    if last:
        params["date_to"] = last.isoformat()
    base = reverse("demands:ledger")
    return f"{base}?{urlencode(params)}" if params else base


def due_url(first: dt.date, last: dt.date, outcome: str = "", **filters) -> str:
    """The ledger of the demands that fell due (应结案) in ``first``..``last`` — the rows
    behind the rates — narrowed to an ``outcome`` (resolved, on_time, postponed,
    unresolved) when given."""
    params = {"due_from": first.isoformat(), "due_to": last.isoformat(), "outcome": outcome}
    return ledger_url(**params, **filters)


def days(hours: float | None) -> float | None:
    return None if hours is None else round(hours / 24, 1)


@dataclass(frozen=True)
class Headline:
    figures: Figures
    mean_days: float | None  # 平均办结时长: intake to resolution, in days


def headline(demands: QuerySet, period: Period, now: dt.datetime) -> Headline:
    """Counted live: the counts (two queries) and the mean resolution time (one)."""
    durations = metrics.durations(demands, period, now=now)
    return Headline(metrics.figures(demands, period, now=now), days(durations.resolution_mean))


def rolled_headline(counts, period: Period) -> Headline:
    """The same from the daily rollup's summed columns."""
    return Headline(rollup.to_figures(counts, period), rollup.mean_days(counts))


@dataclass(frozen=True)
class CommunityRow:
    community: Area
    headline: Headline
    url: str  # the community's ledger for the month
    due: str  # its demands due in the month (the rates' rows)
    resolved: str  # of those, the resolved ones


def communities(
    scope: Scope,
    demands: QuerySet,
    period: Period,
    now: dt.datetime,
    first,
    last,
    counted: dict | None = None,
) -> list[CommunityRow]:
    """One row per community in scope: from the rollup's totals keyed (community,)
    when given (``counted``), else a few live queries per community."""
    rows = []
    for community in scope.areas().filter(level=Level.COMMUNITY).order_by("path"):
        if counted is not None:
            head = rolled_headline(counted.get((community.pk,), Counter()), period)
        else:
            head = headline(demands.within(community), period, now)
        rows.append(
            CommunityRow(
                community,
                head,
                ledger_url(first, last, area=community.pk),
                due_url(first, last, area=community.pk),
                due_url(first, last, "resolved", area=community.pk),
            )
        )
    return rows
