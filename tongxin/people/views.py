from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongxin.accounts.scope import get_area_for, get_resident_for, scope_for
from tongxin.areas.models import Area, Level
from tongxin.audit.models import AuditEntry, record
from tongxin.people import actions
from tongxin.people.counts import kept_counts
from tongxin.people.forms import NewResidentForm, ResidentForm
from tongxin.people.models import CareTag

PAGE_SIZE = 30


FILTER_AREAS = 300


def filter_places(scope):
    """The places (communities, estates, grids) a user's scope holds, as (path, pk): the
    query :func:`_filter_areas` reads them with."""
    return (
        scope.areas()
        .filter(level__constant_in=[Level.COMMUNITY, Level.ESTATE, Level.ZONE])
        .order_by()
        .values_list("path", "pk")
    )


def _filter_areas(scope) -> list[Area]:
    """Communities, estates and grids a user can narrow the list to: the first
    FILTER_AREAS of them in the tree's order. Found on the index of level and path and
    put in order here: asked for in path order with a limit, SQLite walked the path
    index through every building and household between them (a district's 117,000
    areas: 30 ms of every page of the register)."""
    places = sorted(filter_places(scope))[:FILTER_AREAS]
    found = Area.objects.in_bulk([pk for _path, pk in places])
    return [found[pk] for _path, pk in places if pk in found]


@login_required
def resident_list(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    residents = scope.residents().select_related("household")
    q = request.GET.get("q", "").strip()[:50]
    tag = request.GET.get("tag", "")
    area = None
    if (area_id := request.GET.get("area", "")) and area_id.isdigit():
        area = get_area_for(request.user, int(area_id))
        residents = residents.within(area)
    if tag in CareTag.values:
        residents = residents.tagged(tag)
    if q:
        residents = residents.search(q)
    paginator = Paginator(residents.order_by("household__path", "id"), PAGE_SIZE)
    if area is None and not q and (kept := kept_counts(scope, request.user)) is not None:
        # The whole register, or one care tag of it, as the home page counted it since
        # the register last changed (people.counts): a district's 300,000 residents
        # took 53 ms to count again.
        paginator.count = kept["tags"].get(tag, 0) if tag in CareTag.values else kept["residents"]
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "tag": tag,
        "area": area,
        "tags": CareTag.choices,
        "areas": _filter_areas(scope),
        "can_change": scope.can_change,
        "nav_section": "residents",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
        return render(request, "people/resident_list.html#results", context)
    return render(request, "people/resident_list.html", context)


@login_required
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = get_resident_for(request.user, pk)
    scope = scope_for(request.user)
    return render(
        request,
        "people/resident_detail.html",
        {
            "r": resident,
            "address": resident.household.full_name(),
            "can_change": scope.may_change_resident(resident),
            "nav_section": "residents",
        },
    )


@require_POST
@login_required
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the whole ID number and phone, and write who looked into the audit log."""
    resident = get_resident_for(request.user, pk)
    record(request, AuditEntry.Action.VIEW_PERSONAL_DATA, resident, "身份证号、电话")
    return render(request, "people/resident_detail.html#personal", {"r": resident, "whole": True})


@login_required
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resident = get_resident_for(request.user, pk, change=True)
    form = ResidentForm(request.POST or None, instance=resident)
    if request.method == "POST" and form.is_valid():
        resident = form.save(commit=False)
        try:
            actions.update_resident(request, resident, form.changed_data)
        except IntegrityError:
            form.add_error("id_number", _("该身份证号已登记在另一位居民名下。"))
        else:
            messages.success(request, _("已保存 %(name)s 的信息。") % {"name": resident.name})
            return redirect("people:detail", resident.pk)
    return render(
        request,
        "people/resident_form.html",
        {"form": form, "r": resident, "nav_section": "residents"},
    )


@login_required
def resident_new(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if not scope.can_change:
        raise PermissionDenied
    form = NewResidentForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        building: Area = form.cleaned_data["building"]
        if not scope.may_change_area(building):
            raise PermissionDenied
        try:
            resident = actions.register_resident(
                request,
                form.save(commit=False),
                building,
                form.cleaned_data["unit"],
                form.cleaned_data["room"],
            )
        except IntegrityError:
            form.add_error("id_number", _("该身份证号已登记在另一位居民名下。"))
        else:
            messages.success(request, _("已登记居民 %(name)s。") % {"name": resident.name})
            return redirect("people:detail", resident.pk)
    return render(request, "people/resident_form.html", {"form": form, "nav_section": "residents"})
