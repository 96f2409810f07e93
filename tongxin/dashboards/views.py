"""The dashboard of one's scope (统计看板) and the monthly briefing (简报).

The dashboard is for staff whose work covers an area, as the ledger is: it counts
the demands of their scope (scope_for(user).demands(user)). Party members and
residents get 403. The briefing is the street's or the district's, for their offices
and the administrator."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import Scope, scope_for
from tongxin.dashboards import briefing as briefings
from tongxin.dashboards import charts, figures
from tongxin.dashboards.pdf import render_pdf
from tongxin.demands import metrics, rollup
from tongxin.demands.ledger import Light
from tongxin.demands.metrics import Period
from tongxin.demands.models import Demand
from tongxin.demands.views_staff import work_sections

BRIEFING_ROLES = {UserRole.STREET_OFFICE, UserRole.DISTRICT_OFFICE, UserRole.ADMIN}


class MonthForm(forms.Form):
    month = forms.DateField(
        label=gettext_lazy("月份"),
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )

    def chosen(self, today: dt.date) -> dt.date:
        """The first day of the month asked for; this month when none was."""
        month = self.cleaned_data.get("month") or today
        return month.replace(day=1)


def _month(request: HttpRequest) -> tuple[MonthForm, dt.date] | None:
    """The month asked for (this month by default), or None when it is malformed."""
    form = MonthForm(request.GET)
    if not form.is_valid():
        return None
    return form, form.chosen(timezone.localdate())


def _dashboard_scope(user: User) -> Scope:
    scope = scope_for(user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    return scope


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    scope = _dashboard_scope(request.user)
    asked = _month(request)
    if asked is None:
        return HttpResponseBadRequest("month")
    form, month = asked
    first, last = figures.month_bounds(month)
    period = Period.month(month.year, month.month)
    now = timezone.now()
    demands = scope.demands(request.user)
    # Whole communities (a community, street or district office, the administrator):
    # from the daily rollup. Below a community (a grid): counted live, it is small.
    ids = rollup.community_ids(scope.area) if scope.sees_area_tree else None
    if ids is not None:
        demands = Demand.objects.filter(community_id__in=ids)
        starts = rollup.month_starts(now)
        by_category, by_community, by_month = rollup.totals_many(
            ids,
            [
                (first, last, ("category",)),
                (first, last, ("community",)),
                (starts[0], rollup.month_end(starts[-1]), ("month",)),
            ],
            now=now,
        )
        total = sum(by_category.values(), Counter())
        head = figures.rolled_headline(total, period)
        breakdown = rollup.breakdown(by_category, total)
        trend = rollup.monthly_figures(by_month, starts)
    else:
        head = figures.headline(demands, period, now)
        breakdown = metrics.breakdown(demands, period)
        trend = metrics.monthly(demands, now=now)
        by_community = None
    rows = figures.communities(scope, demands, period, now, first, last, by_community)
    work = [
        (s, s.demands.count(), f"{reverse('demands:work')}?tab={s.key}")
        for s in work_sections(request.user, scope, now)
        if s.key in ("dispatch", "warning", "overdue")
    ]
    context = {
        "form": form,
        "month": month,
        "head": head,
        "breakdown": breakdown,
        "rows": rows,
        "work": work,
        "ledger_month": figures.ledger_url(first, last),
        "ledger_due": figures.due_url(first, last),
        "ledger_resolved": figures.due_url(first, last, "resolved"),
        "lights": [
            (Light.RED, demands.overdue(now).count(), figures.ledger_url(light=Light.RED)),
            (Light.YELLOW, demands.warning(now).count(), figures.ledger_url(light=Light.YELLOW)),
        ],
        "by_category": [
            (s, figures.ledger_url(first, last, category=s.key)) for s in breakdown.by_category
        ],
        "by_channel": [
            (s, figures.ledger_url(first, last, channel=s.key)) for s in breakdown.by_channel
        ],
        "by_tier": [(s, figures.ledger_url(first, last, tier=s.key)) for s in breakdown.by_tier],
        "chart_data": charts.dashboard_data(trend, breakdown, rows),
        "may_brief": request.user.role in BRIEFING_ROLES,
        "nav_section": "dashboard",
    }
    return render(request, "dashboards/dashboard.html", context)


def _briefing_scope(user: User) -> Scope:
    scope = scope_for(user)
    if user.role not in BRIEFING_ROLES or not scope.sees_area_tree:
        raise PermissionDenied
    return scope


@login_required
@require_GET
def briefing(request: HttpRequest) -> HttpResponse:
    scope = _briefing_scope(request.user)
    asked = _month(request)
    if asked is None:
        return HttpResponseBadRequest("month")
    form, month = asked
    brief = briefings.build(request.user, scope, month, timezone.now())
    context = {
        "form": form,
        "brief": brief,
        "chart_data": charts.briefing_data(brief),
        "nav_section": "dashboard",
    }
    return render(request, "dashboards/briefing.html", context)


@login_required
@require_GET
def briefing_pdf(request: HttpRequest, year: int, month: int) -> HttpResponse:
    scope = _briefing_scope(request.user)
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return HttpResponseBadRequest("month")
    brief = briefings.build(request.user, scope, dt.date(year, month, 1), timezone.now())
    pdf = render_pdf(brief, request)
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"briefing-{year}-{month:02d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
