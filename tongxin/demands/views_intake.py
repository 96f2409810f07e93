"""Staff pages of intake: entering a demand for a resident (代录) from the hotline, the
service hall, station day, a visit, a WeChat/QQ group or the suggestion box; the
printable sheet of community QR codes; photos for staff pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tongxin.accounts.scope import get_demand_for, get_resident_for, scope_for
from tongxin.areas.models import Level
from tongxin.demands import actions
from tongxin.demands.forms_intake import StaffIntakeForm
from tongxin.demands.models import Attachment, Demand
from tongxin.demands.views_public import display_code, report_url, serve_photo, wants_partial

RESIDENT_RESULTS = 10


def staff_demand_url(demand: Demand) -> str:
    """The staff page of a demand where there is one, else its tracking page."""
    try:
        return reverse("demands:detail", args=[demand.pk])
    except NoReverseMatch:
        return reverse("public:tracking", args=[demand.tracking_code])


def _intake_scope(request: HttpRequest):
    scope = scope_for(request.user)
    if not scope.can_change:
        raise PermissionDenied
    return scope


@login_required
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest) -> HttpResponse:
    scope = _intake_scope(request)
    if request.method == "POST":
        form = StaffIntakeForm(request.POST, request.FILES, scope=scope)
    else:
        form = StaffIntakeForm(initial=request.GET.dict(), scope=scope)
    form.live(request.path)
    for target in ("extra-fields", "place-field"):
        if wants_partial(request, target):
            return render(request, f"demands/intake_fields.html#{target}", {"form": form})
    if request.method == "POST" and form.is_valid():
        try:
            demand, created = actions.submit_demand(entered_by=request.user, **form.submission())
        except actions.ActionError as e:
            form.add_error(None, e.message)
        else:
            _tell_the_code(request, demand, created)
            return redirect(staff_demand_url(demand))
    return render(
        request,
        "demands/intake_form.html",
        {
            "form": form,
            "photos_lost": bool(request.FILES),
            "nav_section": "work",
        },
    )


def _tell_the_code(request: HttpRequest, demand: Demand, created: bool) -> None:
    code = {"code": display_code(demand.tracking_code)}
    if created:
        text = _("已录入诉求，查询码：%(code)s。请告知反映人凭查询码查询办理进度。")
        messages.success(request, text % code)
    else:
        messages.info(request, _("该诉求已经录入过（查询码：%(code)s），没有重复录入。") % code)


@login_required
@require_GET
def resident_search(request: HttpRequest) -> HttpResponse:
    """The reporter search box: residents in the user's scope, phones masked."""
    scope = _intake_scope(request)
    q = request.GET.get("reporter_q", "").strip()[:50]
    residents = []
    if q:
        residents = list(
            scope.residents()
            .search(q)
            .select_related("household")
            .order_by("household__path", "id")[:RESIDENT_RESULTS]
        )
    return render(
        request,
        "demands/intake_fields.html#resident-results",
        {"residents": residents, "q": q, "limit": RESIDENT_RESULTS},
    )


@login_required
@require_GET
def reporter_pick(request: HttpRequest) -> HttpResponse:
    """Choosing a resident from the results (or clearing the choice) fills the hidden
    reporter field; the results list is emptied out of band."""
    _intake_scope(request)
    picked = None
    if (pk := request.GET.get("id", "")).isdigit():
        picked = get_resident_for(request.user, int(pk), change=True)
    return render(
        request,
        "demands/intake_fields.html#reporter-picked",
        {"picked": picked, "clear_results": True},
    )


@login_required
@require_GET
def qr_sheet(request: HttpRequest) -> HttpResponse:
    """One printable card per community in scope: 「扫码反映问题」, its name, its QR code."""
    scope = scope_for(request.user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    communities = scope.areas().filter(level=Level.COMMUNITY).order_by("path")
    cards = [(c, report_url(request, c)) for c in communities]
    return render(request, "demands/intake_qr.html", {"cards": cards, "nav_section": "work"})


@login_required
@require_GET
def photo(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A demand's photo for staff pages, for those who may open the demand."""
    attachment = get_object_or_404(
        Attachment.objects.only("id", "demand_id", "file", "public"), pk=attachment_id
    )
    demand = get_demand_for(request.user, attachment.demand_id)
    # Photos of internal notes are for the staff handling the demand, not its reporter.
    staff = scope_for(request.user).may_dispatch(demand) or demand.handler_id == request.user.pk
    if not attachment.public and not staff:
        raise Http404
    response = serve_photo(attachment)
    response["Cache-Control"] = "private, max-age=3600"
    return response
