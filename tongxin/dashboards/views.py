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
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.views.decorators.http import require_GET

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import Scope, scope_for
from tongxin.dashboards import briefing as briefings
from tongxin.dashboards import charts, figures
from tongxin.dashboards.pdf import render_pdf
from tongxin.demands import metrics, rollup
from tongxin.demands.ledger import Light
from tongxin.demands.metrics import Period
from tongxin.demands.models import Demand, DemandEvent, RollupState
from tongxin.demands.views_staff import part_counts, work_sections

BRIEFING_ROLES = {UserRole.STREET_OFFICE, UserRole.DISTRICT_OFFICE, UserRole.ADMIN}
# How long a drawn dashboard is kept when nothing changes (see _body_key).
DASHBOARD_SECONDS = 60


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


def _last_change() -> tuple[int, int]:
    """What moves when the figures may have changed: the rollup's version (a rebuild,
    a refresh) and the last event's id — every change to a demand writes one
    (tongxin.demands.actions). Two probes of a primary key."""
    version = RollupState.objects.filter(pk=1).values_list("version", flat=True).first()
    last = DemandEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return version or 0, last or 0


def _body_key(user: User, scope: Scope, month: dt.date, now: dt.datetime) -> str:
    """The dashboard drawn for this user, scope, month and language, as of the last
    change: any new event gives a new key, so a change — the user's own first of all —
    shows on the next request; otherwise the figures are recounted every
    DASHBOARD_SECONDS, for what only time changes (yellow turning red, demands falling
    due)."""
    version, last = _last_change()
    today = timezone.localdate(now)
    return (
        f"dashboard:{scope.cache_key(user)}:{month:%Y-%m}:{today}:{get_language()}:{version}:{last}"
    )


def _figures(request: HttpRequest, scope: Scope, month: dt.date, now: dt.datetime) -> dict:
    """Everything the dashboard counts, for its template."""
    first, last = figures.month_bounds(month)
    period = Period.month(month.year, month.month)
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
    sections = [
        s
        for s in work_sections(request.user, scope, now)
        if s.key in ("dispatch", "warning", "overdue")
    ]
    parts = scope.demand_parts(request.user)
    if ids is not None and len(parts) == 2:
        parts[0] = demands  # the same demands as located_in(scope.area), by the ids
    counted = part_counts(request.user, scope, sections, parts)
    work = [
        (s, sum(c[s.key] for c in counted), f"{reverse('demands:work')}?tab={s.key}")
        for s in sections
    ]
    # The area's red and yellow: the work tabs' counts of the area's part (with whole
    # communities), or of all the user's demands (a grid: the rows counted live).
    lit = counted[0] if ids is not None else {k: sum(c[k] for c in counted) for k in counted[0]}
    return {
        "head": head,
        "breakdown": breakdown,
        "rows": rows,
        "work": work,
        "ledger_month": figures.ledger_url(first, last),
        "ledger_due": figures.due_url(first, last),
        "ledger_resolved": figures.due_url(first, last, "resolved"),
        "lights": [
            (Light.RED, lit["overdue"], figures.ledger_url(light=Light.RED)),
            (Light.YELLOW, lit["warning"], figures.ledger_url(light=Light.YELLOW)),
        ],
        "by_category": [
            (s, figures.ledger_url(first, last, category=s.key)) for s in breakdown.by_category
        ],
        "by_channel": [
            (s, figures.ledger_url(first, last, channel=s.key)) for s in breakdown.by_channel
        ],
        "by_tier": [(s, figures.ledger_url(first, last, tier=s.key)) for s in breakdown.by_tier],
        "chart_data": charts.dashboard_data(trend, breakdown, rows),
        "counted_at": now,
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The figures are drawn into the page's body once and kept (DASHBOARD_SECONDS) under
    a key that changes with every change to a demand (:func:`_body_key`); a request
    that finds the body only reads two primary keys and the cache."""
    scope = _dashboard_scope(request.user)
    asked = _month(request)
    if asked is None:
        return HttpResponseBadRequest("month")
    form, month = asked
    now = timezone.now()
    context = {
        "form": form,
        "month": month,
        "may_brief": request.user.role in BRIEFING_ROLES,
        "nav_section": "dashboard",
    }
    key = _body_key(request.user, scope, month, now)
    body = cache.get(key)
    if body is None:
        context.update(_figures(request, scope, month, now))
        body = render_to_string("dashboards/dashboard.html#body", context, request=request)
        cache.set(key, body, DASHBOARD_SECONDS)
    # Our own template's output, escaped when it was drawn.
    context["body"] = mark_safe(body)
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
