from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone

from tongxin.accounts.models import UserRole
from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level, Responsibility
from tongxin.people.counts import register_counts
from tongxin.people.models import CareTag, PartyMember, Resident
from tongxin.workcal.warnings import calendar_warnings


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("favicon.svg"), permanent=True)


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: the process is up and the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def absent_in(area: Area, today: dt.date):
    """Responsible persons away today inside the area: whose work passes to the next."""
    return (
        Responsibility.objects.filter(area__path__startswith=area.path)
        .filter(Q(absent_from__isnull=False) | Q(absent_until__isnull=False))
        .filter(Q(absent_from__isnull=True) | Q(absent_from__lte=today))
        .filter(Q(absent_until__isnull=True) | Q(absent_until__gte=today))
        .select_related("user", "area")
        .order_by("area__path", "position")
    )


def _staff_context(user, scope: Scope, today: dt.date) -> dict:
    root = scope.area
    children = Area.objects.filter(level=Level.COMMUNITY)
    if root is not None:
        children = Area.objects.filter(path__startswith=root.path, depth=root.depth + 1)
    register = register_counts(scope, user)
    return {
        "resident_count": register["residents"],
        "household_count": register["households"],
        "tags": [(t, str(label), register["tags"].get(t, 0)) for t, label in CareTag.choices],
        "children": children.order_by("path")[:50],
        "absent": list(absent_in(root, today)[:20]) if root else [],
    }


def _work_counts(user, scope: Scope) -> list[tuple[str, str, int]]:
    """(tab, label, count) of the demand work list: what waits for this person,
    counted as the work list counts them (by the disjoint parts of the scope: a count
    over the area OR the user's own demands reads every demand of a district)."""
    from tongxin.demands.views_staff import section_counts, work_sections

    sections = work_sections(user, scope, timezone.now())
    counts = section_counts(user, scope, sections)
    return [(s.key, str(s.label), counts[s.key]) for s in sections]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = scope_for(user)
    today = timezone.localdate()
    context: dict = {
        "nav_section": "home",
        "scope": scope,
        "today": today,
        "calendar_warnings": calendar_warnings(user),
    }
    if scope.sees_area_tree or user.role == UserRole.PARTY_MEMBER:
        context["work"] = _work_counts(user, scope)
    if scope.sees_area_tree:
        context.update(_staff_context(user, scope, today))
        context["can_import"] = scope.can_change
    if user.role == UserRole.RESIDENT and scope.household_id:
        context["household"] = Area.objects.get(pk=scope.household_id)
        context["members"] = Resident.objects.filter(household_id=scope.household_id)
    if user.role == UserRole.PARTY_MEMBER:
        context["membership"] = (
            PartyMember.objects.select_related("branch", "home_community").filter(user=user).first()
        )
    return render(request, "core/home.html", context)
