from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongxin.accounts.scope import get_area_for, scope_for
from tongxin.areas import actions
from tongxin.areas.forms import AbsenceForm, AddResponsibleForm
from tongxin.areas.models import Area, Level, Responsibility


def _children(area: Area):
    return (
        Area.objects.filter(path__startswith=area.path, depth=area.depth + 1)
        .annotate(chain_size=Count("responsibilities"))
        .order_by("path")
    )


@login_required
def tree(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    roots = (
        Area.objects.filter(depth=1) if scope.everything else Area.objects.filter(pk=scope.area.pk)
    )
    return render(request, "areas/tree.html", {"roots": roots, "nav_section": "areas"})


@login_required
def children(request: HttpRequest, pk: int) -> HttpResponse:
    """The next level of the tree, for htmx to expand a node in place."""
    area = get_area_for(request.user, pk)
    if not scope_for(request.user).covers_area(area):
        raise Http404
    return render(request, "areas/tree.html#children", {"area": area, "nodes": _children(area)})


def _chain_context(area: Area) -> dict:
    today = timezone.localdate()
    chain = list(area.responsibilities.select_related("user").order_by("position"))
    now = area.responsible_now(today)
    return {
        "chain": [(r, r.is_present(today)) for r in chain],
        "now": now,
        "inherited": now is not None and now.area_id != area.pk,
        "today": today,
    }


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    area = get_area_for(request.user, pk)
    scope = scope_for(request.user)
    if not scope.covers_area(area):
        # A node above the user's own area: only the way down to it is shown.
        return redirect("areas:tree")
    context = {
        "area": area,
        "path": [(a, scope.covers_area(a)) for a in area.ancestors_and_self()],
        "nodes": _children(area)[:500] if area.level != Level.BUILDING else None,
        "households": _children(area)[:500] if area.level == Level.BUILDING else None,
        "resident_count": scope.residents().within(area).count(),
        "can_change": scope.may_change_area(area),
        "add_form": AddResponsibleForm(area=area) if scope.may_change_area(area) else None,
        "nav_section": "areas",
        **_chain_context(area),
    }
    return render(request, "areas/detail.html", context)


def _responsibility_for(request: HttpRequest, area_pk: int, pk: int) -> Responsibility:
    area = get_area_for(request.user, area_pk, change=True)
    r = area.responsibilities.select_related("user", "area").filter(pk=pk).first()
    if r is None:
        raise Http404
    return r


@login_required
def absence(request: HttpRequest, area_pk: int, pk: int) -> HttpResponse:
    r = _responsibility_for(request, area_pk, pk)
    form = AbsenceForm(request.POST or None, instance=r)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        actions.set_absence(request, r, d["absent_from"], d["absent_until"], d["absence_reason"])
        messages.success(
            request, _("已登记 %(name)s 离岗，期间工作由下一顺位递补。") % {"name": r.user}
        )
        return redirect("areas:detail", area_pk)
    return render(request, "areas/absence.html", {"form": form, "r": r, "nav_section": "areas"})


@require_POST
@login_required
def back(request: HttpRequest, area_pk: int, pk: int) -> HttpResponse:
    r = _responsibility_for(request, area_pk, pk)
    actions.clear_absence(request, r)
    messages.success(request, _("%(name)s 已返岗。") % {"name": r.user})
    return redirect("areas:detail", area_pk)


@require_POST
@login_required
def up(request: HttpRequest, area_pk: int, pk: int) -> HttpResponse:
    actions.move_up(request, _responsibility_for(request, area_pk, pk))
    return redirect("areas:detail", area_pk)


@require_POST
@login_required
def remove(request: HttpRequest, area_pk: int, pk: int) -> HttpResponse:
    r = _responsibility_for(request, area_pk, pk)
    actions.remove_responsible(request, r)
    messages.success(request, _("已从责任链移除 %(name)s。") % {"name": r.user})
    return redirect("areas:detail", area_pk)


@require_POST
@login_required
def add(request: HttpRequest, area_pk: int) -> HttpResponse:
    area = get_area_for(request.user, area_pk, change=True)
    form = AddResponsibleForm(request.POST, area=area)
    if form.is_valid():
        actions.add_responsible(request, area, form.cleaned_data["user"], form.cleaned_data["role"])
        messages.success(request, _("已加入责任链。"))
    else:
        messages.error(request, _("未能加入：请选择人员和职责。"))
    return redirect("areas:detail", area_pk)
