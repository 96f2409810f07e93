"""The public board (镜子墙) of a community or a street, and the staff page of hot topics.

The board is public, no sign-in: every figure comes from tongxin.demands.metrics over
the demands of the area, and every line of text that residents or handlers wrote goes
through :func:`tongxin.board.scrub.scrub` first. No name, phone, ID number or room
leaves this module: the board shows categories, states, places down to the estate (小区),
titles and public answers, masked."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from tongxin.accounts.scope import scope_for
from tongxin.areas.models import Area, Level
from tongxin.board import hot
from tongxin.board.scrub import people_names, scrub
from tongxin.demands import actions, metrics, rollup
from tongxin.demands.models import DONE_STATES, Demand, State

CACHE_SECONDS = 5 * 60
TOP_GROUPS = 5
RECENT_RESOLVED = 8


# --- the public board ---------------------------------------------------------------------
@require_GET
def community(request: HttpRequest, pk: int) -> HttpResponse:
    return _board(request, get_object_or_404(Area, pk=pk, level=Level.COMMUNITY))


@require_GET
def street(request: HttpRequest, pk: int) -> HttpResponse:
    return _board(request, get_object_or_404(Area, pk=pk, level=Level.STREET))


def _board(request: HttpRequest, area: Area) -> HttpResponse:
    key = f"board:{area.pk}:{translation.get_language()}"
    data = cache.get(key)
    if data is None:
        data = board_data(area)
        cache.set(key, data, CACHE_SECONDS)
    context = {
        "area": area,
        "board": data,
        "is_community": area.level == Level.COMMUNITY,
        "board_chart": _chart_data(data),
    }
    # No Cache-Control: public here — the page carries a CSRF token (the language switch),
    # which no shared proxy may hand to another visitor. The server-side cache does the work.
    return render(request, "board/board.html", context)


def _chart_data(data: dict) -> dict:
    """What board.js draws: the same figures as the tables beside the charts."""
    return {
        "categories": data["categories"],
        "states": data["states"],
        "months": [m["short"] for m in data["trend"]],
        "collected": [m["collected"] for m in data["trend"]],
        "resolved": [m["resolved"] for m in data["trend"]],
        "labels": {"collected": _("受理"), "resolved": _("办结")},
    }


def area_demands(area: Area) -> QuerySet:
    """Every demand of the communities in ``area``."""
    if area.level == Level.COMMUNITY:
        return Demand.objects.filter(community=area)
    return Demand.objects.filter(community_id__in=rollup.community_ids(area))


def board_data(area: Area, now: dt.datetime | None = None) -> dict:
    """Everything the board shows, as plain (cacheable, already masked) values. The
    figures come from the daily rollup (tongxin.demands.rollup): a fixed number of
    queries over a few thousand rows, however many demands."""
    now = now or timezone.now()
    demands = area_demands(area)
    ids = rollup.community_ids(area)
    year = timezone.localdate(now).year
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    starts = rollup.month_starts(now)
    by_category, by_month = rollup.totals_many(
        ids,
        [(first, last, ("category",)), (starts[0], rollup.month_end(starts[-1]), ("month",))],
        now=now,
    )
    total = sum(by_category.values(), Counter())
    this_year = rollup.to_figures(total, metrics.Period.days(first, last))
    months = rollup.monthly_figures(by_month, starts)
    shares = rollup.breakdown(by_category, total)
    categories = [(s.label, s.count) for s in shares.by_category]
    states = {s.key: s.count for s in shares.by_state}
    estates = hot.estates_within(area)
    # Answers name neighbours too, not only the reporter: mask everyone of the street.
    street_path = area.path[: -Area.steplen] if area.level == Level.COMMUNITY else area.path
    known = people_names(street_path)
    return {
        "year": year,
        "collected_year": this_year.collected,
        "collected_month": months[-1][1].collected,
        "resolution_rate": _rate(this_year.resolution_rate),
        "on_time_rate": _rate(this_year.on_time_rate),
        "satisfaction_rate": _rate(this_year.satisfaction_rate),
        "categories": [{"name": name, "value": n} for name, n in categories],
        "states": [
            {"name": str(s.label), "value": states[s.value]} for s in State if s.value in states
        ],
        "trend": [
            {
                "month": _("%(year)s年%(month)s月") % {"year": d.year, "month": d.month},
                "short": _("%(month)s月") % {"month": d.month},
                "collected": f.collected,
                "resolved": f.resolved,
            }
            for d, f in months
        ],
        "hot": [
            _public_group(g, known)
            for g in hot.stored_briefs(
                demands, communities=ids, estates=estates, now=now, limit=TOP_GROUPS
            )
        ],
        "resolved": _recently_resolved(demands, estates, known, now),
        "computed_at": now,
    }


def _rate(rate: metrics.Rate) -> dict:
    return {"text": str(rate), "numerator": rate.numerator, "denominator": rate.denominator}


def _public_group(group: hot.Brief, known: frozenset[str]) -> dict:
    names = list(group.names)
    open_count = group.open_count
    return {
        "title": scrub(group.main.title, names, known),
        "count": group.count,
        "place": group.estate or group.community,
        "status": _("办理中") if open_count else _("已办结"),
        "open": open_count,
    }


def _recently_resolved(
    demands: QuerySet, estates: list[tuple[str, str]], known: frozenset[str], now: dt.datetime
) -> list[dict]:
    rows = (
        demands.filter(state__in=DONE_STATES, resolved_at__isnull=False, resolved_at__lt=now)
        .exclude(public_answer="")
        .order_by("-resolved_at", "-pk")
        .values_list(
            "title",
            "category__name",
            "area__path",
            "community__name",
            "resolved_at",
            "public_answer",
            "reporter_name",
            "reporter__name",
            "handler__full_name",
            "entered_by__full_name",
        )[:RECENT_RESOLVED]
    )
    cases = []
    for title, category, path, community_name, resolved_at, answer, *names in rows:
        cases.append(
            {
                "title": scrub(title, names, known),
                "category": category,
                "place": hot.estate_of(path, estates) or community_name,
                "resolved_on": timezone.localdate(resolved_at),
                "answer": scrub(answer, names, known),
            }
        )
    return cases


# --- hot topics for staff (热点问题) -------------------------------------------------------
HOT_PER_PAGE = 20


def _hot_parts(scope, user) -> dict:
    """How :func:`hot.stored_groups` may count a staff member's groups from the links:
    the communities of their area (whole, at community level or above, as the rollup
    has them) and the demands they handle elsewhere. Below a community (a grid), over
    the demands."""
    communities = rollup.community_ids(None if scope.everything else scope.area)
    if communities is None:
        return {}
    parts = scope.demand_parts(user)
    return {"communities": communities, "elsewhere": parts[1] if len(parts) == 2 else None}


@login_required
@require_GET
def hot_topics(request: HttpRequest) -> HttpResponse:
    """The groups a page at a time (HOT_PER_PAGE), the largest first: a district has
    hundreds of them, and the whole list was half a megabyte."""
    scope = scope_for(request.user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    raw = request.GET.get("page", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) <= 10_000 else 1
    groups = hot.stored_groups(
        scope.demands(request.user),
        estates=hot.estates_within(scope.area),
        limit=HOT_PER_PAGE + 1,
        offset=(page - 1) * HOT_PER_PAGE,
        **_hot_parts(scope, request.user),
    )
    context = {
        "groups": groups[:HOT_PER_PAGE],
        "page": page,
        # Past the last page: only the way back to the first (the template).
        "previous_page": page - 1 if groups else 0,
        "next_page": page + 1 if len(groups) > HOT_PER_PAGE else None,
        "nav_section": "hot",
    }
    return render(request, "board/hot.html", context)


@login_required
@require_POST
def merge_group(request: HttpRequest) -> HttpResponse:
    """Merge the posted demands into the earliest of them (合并到最早的一件), each merge
    recorded by its own event. Every demand must be in the user's scope and theirs to
    dispatch; one that cannot be merged (closed meanwhile) is reported, the rest go on."""
    scope = scope_for(request.user)
    try:
        pks = sorted({int(pk) for pk in request.POST.getlist("pk")})
    except ValueError:
        raise Http404 from None
    demands = list(
        scope.demands(request.user)
        .select_related("area")
        .filter(pk__in=pks)
        .order_by("created_at", "pk")
    )
    if len(pks) < 2 or len(demands) != len(pks):
        raise Http404
    if not all(scope.may_dispatch(d) for d in demands):
        raise PermissionDenied
    main, *duplicates = demands
    merged, failed = 0, []
    for duplicate in duplicates:
        try:
            actions.merge_demand(duplicate, into=main, by=request.user)
            merged += 1
        except actions.ActionError as error:
            failed.append(f"{duplicate.number}：{error}")
    if merged:
        messages.success(
            request,
            ngettext(
                "已把 %(n)s 件诉求合并到 %(number)s。",
                "已把 %(n)s 件诉求合并到 %(number)s。",
                merged,
            )
            % {"n": merged, "number": main.number},
        )
    for line in failed:
        messages.error(request, _("未能合并 %(line)s") % {"line": line})
    return redirect("board:hot")
