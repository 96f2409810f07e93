"""The district office's monthly dispatch meeting (区一线办调度会, T4 统筹办结): the
agenda of the next 25th, a decision per item, the minutes, and the meetings before."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import scope_for
from tongxin.demands import actions, clock
from tongxin.demands.forms_meeting import (
    DEFAULT_LIMIT_DAYS,
    DecisionForm,
    MeetingNotesForm,
    responsible_people,
)
from tongxin.demands.models import DispatchMeeting, MeetingItem

# The meeting is the district office's; the street office follows its own cases.
MEETING_ROLES = {UserRole.DISTRICT_OFFICE, UserRole.STREET_OFFICE, UserRole.ADMIN}
DECIDING_ROLES = {UserRole.DISTRICT_OFFICE, UserRole.ADMIN}
PREVIOUS_SHOWN = 24


def _require_meeting_role(user: User) -> None:
    if user.role not in MEETING_ROLES:
        raise PermissionDenied


def _may_decide(user: User) -> bool:
    return user.role in DECIDING_ROLES


def _scoped_items(user: User):
    """The agenda items a user may see: those of demands in their scope."""
    return MeetingItem.objects.filter(demand__in=scope_for(user).demands(user).values("pk"))


def _get_item_for(user: User, pk: int) -> MeetingItem:
    item = (
        _scoped_items(user).select_related("meeting", "demand", "demand__category").filter(pk=pk)
    ).first()
    if item is None:
        raise Http404
    return item


def _detail_url(pk: int) -> str | None:
    try:
        return reverse("demands:detail", args=[pk])
    except NoReverseMatch:  # the demand pages are not installed
        return None


def _items(
    user: User,
    meeting: DispatchMeeting,
    now: dt.datetime,
    *,
    people: list[User] | None = None,
    forms: dict[int, DecisionForm] | None = None,
    only: int | None = None,
) -> list[MeetingItem]:
    """The meeting's items the user may see, each with its light, the link to the
    demand and, where the user may decide it, its decision form."""
    items = (
        _scoped_items(user)
        .filter(meeting=meeting)
        .select_related(
            "assignee",
            "demand__category",
            "demand__community",
            "demand__area",
            "demand__handler",
            "demand__reporter",
        )
        .order_by("demand__created_at", "pk")
    )
    if only is not None:
        items = items.filter(pk=only)
    items = list(items)
    forms = forms or {}
    may_decide = _may_decide(user)
    default_due = None
    for item in items:
        item.light = item.demand.light(now)
        item.detail_url = _detail_url(item.demand_id)
        item.form, item.errors = None, []
        sent = forms.get(item.pk)
        if not (may_decide and not item.decision and item.demand.is_open):
            if sent is not None:  # decided or closed meanwhile: say why nothing changed
                item.errors = sent.non_field_errors()
            continue
        if sent is None and default_due is None:
            default_due = clock.deadline_after(now, DEFAULT_LIMIT_DAYS, "days")
        item.form = sent or DecisionForm(
            prefix=f"item{item.pk}", people=people or [], now=now, due=default_due
        )
    return items


def _previous(user: User, meeting: DispatchMeeting):
    mine = Q(items__in=_scoped_items(user).values("pk"))
    return (
        DispatchMeeting.objects.exclude(pk=meeting.pk)
        .annotate(
            n_items=Count("items", filter=mine, distinct=True),
            n_decided=Count("items", filter=mine & ~Q(items__decision=""), distinct=True),
        )
        .order_by("-date")[:PREVIOUS_SHOWN]
    )


def _render_meeting(
    request: HttpRequest, meeting: DispatchMeeting, *, forms: dict[int, DecisionForm] | None = None
) -> HttpResponse:
    now = timezone.now()
    may_decide = _may_decide(request.user)
    people = responsible_people() if may_decide else []
    items = _items(request.user, meeting, now, people=people, forms=forms)
    context = {
        "meeting": meeting,
        "items": items,
        "total": len(items),
        "undecided": sum(1 for i in items if not i.decision),
        "previous": _previous(request.user, meeting),
        "may_decide": may_decide,
        "notes_form": MeetingNotesForm(initial={"notes": meeting.notes}) if may_decide else None,
        "is_agenda": not meeting.held and meeting.date >= timezone.localdate(now),
        "today": timezone.localdate(now),
        "nav_section": "meeting",
    }
    return render(request, "demands/meeting.html", context)


@login_required
def agenda(request: HttpRequest) -> HttpResponse:
    """The meeting being prepared; open T4 demands waiting for it are put on it."""
    _require_meeting_role(request.user)
    return _render_meeting(request, actions.agenda_meeting())


@login_required
def meeting_on(request: HttpRequest, day: str) -> HttpResponse:
    _require_meeting_role(request.user)
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404 from None
    meeting = DispatchMeeting.objects.filter(date=date).first()
    if meeting is None:
        raise Http404
    return _render_meeting(request, meeting)


def _meeting_url(meeting: DispatchMeeting) -> str:
    return reverse("demands:meeting_on", args=[f"{meeting.date:%Y-%m-%d}"])


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """One item's decision: a responsible person and a time limit (交办)."""
    _require_meeting_role(request.user)
    item = _get_item_for(request.user, pk)
    if not _may_decide(request.user):
        raise PermissionDenied
    people = responsible_people()
    form = DecisionForm(request.POST, prefix=f"item{item.pk}", people=people)
    decided = False
    if form.is_valid():
        try:
            actions.decide_meeting_item(item, by=request.user, **form.cleaned_data)
            decided = True
        except actions.ActionError as e:
            form.add_error(None, e.message)
    if not request.headers.get("HX-Request"):
        if decided:
            messages.success(request, _("已记录调度会决定，并通知责任人。"))
            return redirect(_meeting_url(item.meeting) + f"#item-{item.pk}")
        response = _render_meeting(request, item.meeting, forms={item.pk: form})
        response.status_code = 400
        return response
    # htmx swaps only a 2xx answer in: the item comes back with its errors, or decided.
    (fresh,) = _items(
        request.user, item.meeting, timezone.now(), people=people, forms={item.pk: form}, only=pk
    )
    counts = (
        _scoped_items(request.user)
        .filter(meeting=item.meeting)
        .aggregate(total=Count("pk"), undecided=Count("pk", filter=Q(decision="")))
    )
    html = render_to_string(
        "demands/meeting.html#item", {"item": fresh, "decided_now": decided}, request
    ) + render_to_string("demands/meeting.html#agenda_count", {**counts, "oob": True}, request)
    return HttpResponse(html)


@login_required
@require_POST
def record(request: HttpRequest, pk: int) -> HttpResponse:
    """The meeting's minutes; saving them marks it held."""
    _require_meeting_role(request.user)
    if not _may_decide(request.user):
        raise PermissionDenied
    meeting = DispatchMeeting.objects.filter(pk=pk).first()
    if meeting is None:
        raise Http404
    form = MeetingNotesForm(request.POST)
    if form.is_valid():
        actions.record_meeting(meeting, notes=form.cleaned_data["notes"])
        messages.success(request, _("会议纪要已保存，本次调度会已标记为已召开。"))
    return redirect(_meeting_url(meeting))
