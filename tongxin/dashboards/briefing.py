"""The monthly briefing (群众诉求办理简报) of a street or the district.

Numbered 第N期 where N counts the months from the first month in which the scope
collected a demand (that month is 第1期), so the number of a month never changes
however often its briefing is printed. No personal data: the cases and the overdue
list show the ledger number, the category, the place down to the estate and the
public answer, with any phone or ID number in it masked.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from tongxin.accounts.models import User
from tongxin.accounts.scope import Scope
from tongxin.areas.models import Area
from tongxin.demands import metrics, rollup
from tongxin.demands.ledger import Places, mask_text
from tongxin.demands.metrics import Breakdown, Period, Rate, resolved_by
from tongxin.demands.models import Demand, Satisfaction

from .figures import Headline, headline, month_bounds, rolled_headline

TOP = 5
OVERDUE_LIMIT = 100


@dataclass(frozen=True)
class Topic:
    title: str
    count: int
    place: str  # the community, and the estate when all the reports lie in one


@dataclass(frozen=True)
class Case:
    number: str
    category: str
    place: str
    title: str
    answer: str


@dataclass(frozen=True)
class Overdue:
    number: str
    category: str
    place: str
    days: int
    tier: str


@dataclass(frozen=True)
class Briefing:
    area_name: str
    month: dt.date
    issue: int  # 第N期
    head: Headline
    breakdown: Breakdown
    hot: list[Topic]
    cases: list[Case]
    overdue: list[Overdue]  # the longest overdue, at most OVERDUE_LIMIT
    overdue_total: int
    generated: dt.datetime

    @property
    def title(self) -> str:
        return _("%(area)s 群众诉求办理简报 %(year)d年第%(n)d期") % {
            "area": self.area_name,
            "year": self.month.year,
            "n": self.issue,
        }

    @property
    def top_categories(self):
        return self.breakdown.by_category[:TOP]

    @property
    def sentences(self) -> list[str]:
        """The headline figures in words, as the office writes them."""
        f = self.head.figures
        first = _(
            "本月共收集群众诉求 %(collected)d 件，办结 %(resolved)d 件，"
            "结案率 %(rate)s，按期结案率 %(on_time)s。"
        ) % {
            "collected": f.collected,
            "resolved": f.resolved,
            "rate": pct(f.resolution_rate),
            "on_time": pct(f.on_time_rate),
        }
        second = _(
            "回访 %(visits)d 件，满意率 %(satisfied)s；返工 %(rework)d 件，返工率 %(rr)s。"
        ) % {
            "visits": f.visits,
            "satisfied": pct(f.satisfaction_rate),
            "rework": f.rework,
            "rr": pct(f.rework_rate),
        }
        sentences = [first, second]
        if self.head.mean_days is not None:
            sentences.append(_("平均办结时长 %(d)s 天。") % {"d": self.head.mean_days})
        if self.overdue_total:
            sentences.append(_("截至目前仍有 %(n)d 件超期未办结。") % {"n": self.overdue_total})
        return sentences


def pct(rate: Rate) -> str:
    return str(rate)


def scope_name(scope: Scope) -> str:
    if scope.area is not None:
        return scope.area.name
    root = Area.objects.get_root_nodes().first()
    return root.name if root else _("全区")


def issue_number(demands, month: dt.date) -> int:
    first = demands.order_by().aggregate(first=Min("created_at"))["first"]
    if first is None:
        return 1
    start = timezone.localtime(first).date()
    return max(1, (month.year - start.year) * 12 + month.month - start.month + 1)


def hot_topics(demands, period: Period, now: dt.datetime) -> list[Topic]:
    """The month's hot topics (热点问题): alike demands in one community, as linked by
    tongxin.board.hot in the background; titles scrubbed of names, phones and rooms as the board shows them."""
    try:
        from tongxin.board import hot
        from tongxin.board.scrub import scrub
    except ImportError:  # the board is not installed: titles asked more than once
        return _repeated_titles(demands, period)
    end = min(period.end, now)
    groups = hot.stored_groups(
        demands.filter(period.q("created_at")),
        estates=hot.estates_within(None),
        now=end,
        days=(end - period.start).days + 1,
        limit=TOP,
    )
    return [
        Topic(
            scrub(g.main.title, g.main.names),
            g.count,
            " ".join(n for n in (g.community, g.estate) if n),
        )
        for g in groups[:TOP]
    ]


def _repeated_titles(demands, period: Period) -> list[Topic]:
    titles = (
        demands.filter(period.q("created_at"))
        .order_by()
        .values_list("title")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .order_by("-n", "title")[:TOP]
    )
    return [Topic(mask_text(t), n, "") for t, n in titles]


def _place(place) -> str:
    return " ".join(n for n in (place.community, *place.grid[:1]) if n)


def notable_cases(demands, period: Period, now: dt.datetime) -> list[Case]:
    """Resolved in the month and found satisfying on the return visit, latest first."""
    rows = list(
        demands.filter(resolved_by(now), period.q("resolved_at"))
        .filter(satisfaction=Satisfaction.SATISFIED)
        .exclude(public_answer="")
        .select_related("area", "category")
        .order_by("-resolved_at", "-pk")[:TOP]
    )
    places = Places().of(rows)
    return [
        Case(
            d.number,
            d.category.name,
            _place(places[d.pk]),
            mask_text(d.title),
            mask_text(d.public_answer),
        )
        for d in rows
    ]


def overdue_list(demands, now: dt.datetime) -> list[Overdue]:
    """Open and past the deadline now, the longest overdue first."""
    rows = list(
        demands.overdue(now)
        .select_related("area", "category")
        .order_by("deadline", "pk")[:OVERDUE_LIMIT]
    )
    places = Places().of(rows)
    return [
        Overdue(
            d.number,
            d.category.name,
            _place(places[d.pk]),
            (now - d.deadline).days,
            d.get_tier_display(),
        )
        for d in rows
    ]


def build(user: User, scope: Scope, month: dt.date, now: dt.datetime) -> Briefing:
    demands = scope.demands(user)
    first, last = month_bounds(month)
    month = first
    period = Period.month(month.year, month.month)
    ids = rollup.community_ids(scope.area)
    if ids is not None:  # whole communities: from the daily rollup
        demands = Demand.objects.filter(community_id__in=ids)
        by_category = rollup.totals(ids, first, last, by=("category",), now=now)
        total = sum(by_category.values(), Counter())
        head, breakdown = rolled_headline(total, period), rollup.breakdown(by_category, total)
    else:
        head, breakdown = headline(demands, period, now), metrics.breakdown(demands, period)
    return Briefing(
        area_name=scope_name(scope),
        month=month,
        issue=issue_number(demands, month),
        head=head,
        breakdown=breakdown,
        hot=hot_topics(demands, period, now),
        cases=notable_cases(demands, period, now),
        overdue=overdue_list(demands, now),
        overdue_total=demands.overdue(now).count(),
        generated=now,
    )
