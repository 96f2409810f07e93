"""Public pages, no sign-in: a resident reports a problem from the community's QR code
(群众点单) and follows it by the tracking code (查询码) — every public step, the answer,
a rating once it is resolved, withdrawal while it is open.

The tracking code is the only key: there is no listing, and a page shows nothing of a
demand but what its reporter wrote and the steps meant for them."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from functools import wraps

import segno
from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongxin.areas.models import COMMUNITIES, Area, Level
from tongxin.core.prepared import Prepared
from tongxin.demands import actions
from tongxin.demands.forms_intake import PublicReportForm, RatingForm, WithdrawForm
from tongxin.demands.models import Attachment, Channel, Demand, DemandEvent, EventKind, State

_CODE_RE = re.compile(r"^[A-Z0-9]{6,12}$")
# What the reporter of a merged demand sees of the main one: how it is handled, not
# another resident's report or rating.
_NOT_FOR_MERGED = [EventKind.SUBMITTED, EventKind.RATED, EventKind.WITHDRAWN]
STEPS = [
    (gettext_lazy("已提交"), {State.SUBMITTED, State.RETURNED}),
    (gettext_lazy("已派单"), {State.DISPATCHED}),
    (gettext_lazy("办理中"), {State.ACCEPTED, State.IN_PROGRESS}),
    (gettext_lazy("已办结"), {State.RESOLVED}),
    (gettext_lazy("已回访"), {State.CLOSED}),
]
PUBLIC_STATE = {
    # A return to the dispatcher is internal: the reporter sees that it waits for dispatch.
    State.SUBMITTED: gettext_lazy("已提交，等待社区派单"),
    State.RETURNED: gettext_lazy("已提交，等待社区派单"),
    State.DISPATCHED: gettext_lazy("已派单，等待承办人接单"),
    State.ACCEPTED: gettext_lazy("办理中"),
    State.IN_PROGRESS: gettext_lazy("办理中"),
    State.RESOLVED: gettext_lazy("已办结"),
    State.CLOSED: gettext_lazy("已办结并回访"),
    State.MERGED: gettext_lazy("已与同类诉求合并办理"),
    State.WITHDRAWN: gettext_lazy("已撤回"),
}


def private(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Pages reached by a tracking code: never indexed, never kept by a shared cache."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        add_never_cache_headers(response)
        return response

    return wrapped


def normalize_code(raw: str) -> str:
    """What people type: any case, with spaces or dashes (ABCDE-FGHJK) → ABCDEFGHJK."""
    return re.sub(r"[\s\-_—－]", "", raw or "").upper()


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == 10 else code


def demand_by_code(raw: str) -> Demand | None:
    code = normalize_code(raw)
    if not _CODE_RE.match(code):
        return None
    return (
        Demand.objects.select_related("category", "community", "reporter", "merged_into")
        .filter(tracking_code=code)
        .first()
    )


def _demand_or_404(code: str) -> Demand:
    demand = demand_by_code(code)
    if demand is None:
        raise Http404
    return demand


def _community(pk: int):
    return Area.objects.filter(pk=pk, level=Level.COMMUNITY)


# Every report reads its community: kept for a minute per process (areas.COMMUNITIES);
# inside a transaction read by a query built once per process.
_COMMUNITIES = Prepared()


def _read_community(community_id: int) -> Area | None:
    return _COMMUNITIES.get("community", _community, community_id)


def _community_or_404(community_id: int) -> Area:
    community = COMMUNITIES.get(community_id, _read_community)
    if community is None:
        raise Http404
    return community


def submitted_url(code: str) -> str:
    """``reverse("public:submitted", args=[code])``, the URL written once per prefix
    (a tracking code needs no quoting): every report is answered with it."""
    head, tail = _submitted_url(get_script_prefix())
    return f"{head}{code}{tail}"


@functools.cache
def _submitted_url(prefix: str) -> tuple[str, str]:
    head, tail = reverse("public:submitted", args=["CODE"]).split("CODE")
    return head, tail


def report_url(request: HttpRequest, community: Area) -> str:
    return request.build_absolute_uri(reverse("public:report", args=[community.pk]))


def wants_partial(request: HttpRequest, target: str) -> bool:
    return bool(request.headers.get("HX-Request")) and request.headers.get("HX-Target") == target


# --- reporting (群众点单) -----------------------------------------------------------------
@private
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, community_id: int) -> HttpResponse:
    community = _community_or_404(community_id)
    if request.method == "POST":
        form = PublicReportForm(request.POST, request.FILES, community=community)
    else:
        form = PublicReportForm(
            initial={"category": request.GET.get("category")}, community=community
        )
    form.live(request.path)
    if wants_partial(request, "extra-fields"):
        return render(request, "demands/intake_fields.html#extra-fields", {"form": form})
    if request.method == "POST" and form.is_valid():
        try:
            demand, _created = actions.submit_demand(channel=Channel.WEB, **form.submission())
        except actions.ActionError as e:
            form.add_error(None, e.message)
        else:
            return HttpResponseRedirect(submitted_url(demand.tracking_code))
    return render(
        request,
        "demands/public_report.html",
        {
            "form": form,
            "community": community,
            "photos_lost": bool(request.FILES),
        },
    )


@private
@require_GET
def submitted(request: HttpRequest, code: str) -> HttpResponse:
    demand = _demand_or_404(code)
    return render(
        request,
        "demands/public_submitted.html",
        {
            "demand": demand,
            "code": display_code(demand.tracking_code),
        },
    )


@require_GET
def qr_svg(request: HttpRequest, community_id: int) -> HttpResponse:
    """The community's QR code for posters and the print sheet: its report page."""
    community = _community_or_404(community_id)
    out = io.BytesIO()
    segno.make(report_url(request, community), error="m").save(
        out,
        kind="svg",
        scale=8,
        border=4,
        light="#fff",
        title=_("%(name)s · 扫码反映问题") % {"name": community.name},
    )
    response = HttpResponse(out.getvalue(), content_type="image/svg+xml")
    response["Cache-Control"] = "max-age=3600"
    return response


# --- tracking (查询办理进度) ---------------------------------------------------------------
@private
@require_GET
def track(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("code", "")
    if not raw.strip():
        return render(request, "demands/public_track.html", {})
    demand = demand_by_code(raw)
    if demand is not None:
        return redirect("public:tracking", demand.tracking_code)
    return _unknown(request, raw)


def _unknown(request: HttpRequest, raw: str, status: int = 200) -> HttpResponse:
    return render(
        request,
        "demands/public_track.html",
        {
            "code": raw[:40],
            "not_found": True,
        },
        status=status,
    )


@private
@require_GET
def tracking(request: HttpRequest, code: str) -> HttpResponse:
    demand = demand_by_code(code)
    if demand is None:
        return _unknown(request, code, status=404)
    main = demand.merged_into if demand.state == State.MERGED else None
    followed = main or demand
    context = {
        "demand": demand,
        "main": main,
        "code": display_code(demand.tracking_code),
        "state": followed.state,
        "state_label": PUBLIC_STATE.get(followed.state, followed.get_state_display()),
        "steps": steps(followed.state),
        "events": public_events(demand, main),
        "extra": extra_answers(demand),
        "answer": demand.public_answer or (main.public_answer if main else ""),
        "photos": visible_photos(demand, main),
        "can_rate": demand.state in (State.RESOLVED, State.CLOSED) and not demand.resident_rating,
        "rating_form": RatingForm(),
        "withdraw_form": WithdrawForm(),
    }
    return render(request, "demands/public_tracking.html", context)


def public_events(demand: Demand, main: Demand | None) -> list:
    """The steps meant for the reporter, oldest first; for a merged demand the main
    demand's handling joins in."""
    which = Q(demand=demand)
    if main is not None:
        which |= Q(demand=main) & ~Q(kind__in=_NOT_FOR_MERGED)
    events = DemandEvent.objects.filter(which, public=True).order_by("at", "id")
    # Resolving the main demand writes the same answer on each merged one: show it once.
    seen: set[tuple] = set()
    shown = []
    for e in events:
        if (key := (e.kind, e.at, e.text)) not in seen:
            seen.add(key)
            shown.append(e)
    return shown


def extra_answers(demand: Demand) -> list[tuple[str, object]]:
    """The answers to the category's extra questions, labelled, in the category's order."""
    specs = [s for s in demand.category.extra_fields or [] if isinstance(s, dict)]
    return [
        (str(s.get("label") or s["code"]), demand.extra[s["code"]])
        for s in specs
        if s.get("code") in (demand.extra or {})
    ]


def steps(state: str) -> list[dict]:
    """已提交 → 已派单 → 办理中 → 已办结 → 已回访, with the current one marked. A withdrawn
    or merged demand is on none of them."""
    current = next((i for i, (_label, states) in enumerate(STEPS) if state in states), None)
    return [
        {"label": label, "done": current is not None and i < current, "current": i == current}
        for i, (label, _states) in enumerate(STEPS)
    ]


def visible_photos(demand: Demand, main: Demand | None):
    """The reporter's own photos and those of public answers; for a merged demand also
    the main demand's answer photos (never another reporter's)."""
    own_public = Q(demand=demand, public=True) & (Q(event__isnull=True) | Q(event__public=True))
    if main is not None:
        own_public |= Q(demand=main, public=True, event__public=True)
    return Attachment.objects.filter(own_public).order_by("id")


@private
@require_POST
def rate(request: HttpRequest, code: str) -> HttpResponse:
    demand = _demand_or_404(code)
    form = RatingForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
    else:
        try:
            actions.rate_by_resident(
                demand,
                satisfaction=form.cleaned_data["satisfaction"],
                comment=form.cleaned_data["comment"],
            )
        except actions.ActionError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, _("感谢您的评价！"))
    return redirect("public:tracking", demand.tracking_code)


@private
@require_POST
def withdraw(request: HttpRequest, code: str) -> HttpResponse:
    demand = _demand_or_404(code)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
    else:
        try:
            actions.withdraw_demand(demand, reason=form.cleaned_data["reason"])
        except actions.ActionError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, _("诉求已撤回。如有新的问题，欢迎随时反映。"))
    return redirect("public:tracking", demand.tracking_code)


@private
@require_GET
def photo(request: HttpRequest, code: str, attachment_id: int) -> HttpResponse:
    """A photo on the tracking page: only through its demand's code (media files are
    not served publicly)."""
    demand = _demand_or_404(code)
    main = demand.merged_into if demand.state == State.MERGED else None
    attachment = visible_photos(demand, main).filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return serve_photo(attachment)


def serve_photo(attachment: Attachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    return FileResponse(handle, content_type="image/jpeg")
