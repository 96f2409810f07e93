"""The district office's monthly dispatch meeting (区一线办调度会, T4 统筹办结): the
agenda of the next 25th, a decision per item, the minutes, and the meetings before."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import scope_for
from tongxin.core.paging import keyed_slice
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
# Items a page shows: each undecided one carries its decision form, whose list of
# responsible people is as long as the district's staff. An agenda that has grown to
# thousands of items (a district that let its T4 cases pile up) is paged, not built
# whole.
PAGE_SIZE = 20
# The agenda's order: oldest demand first, as the meeting takes them.
ORDER = ("demand__created_at", "pk")


def _require_meeting_role(user: User) -> None:
    if user.role not in MEETING_ROLES:
        raise PermissionDenied


def _may_decide(user: User) -> bool:
    return user.role in DECIDING_ROLES


def _scoped_items(user: User):
    """The agenda items a user may see: those of demands in their scope (every item, for
    the district office: no subquery over all the district's demands to say so)."""
    scope = scope_for(user)
    if scope.everything:
        return MeetingItem.objects.all()
    # Each item's demand looked up by its key and tested, rather than "demand IN (the
    # scope's demands)", for which SQLite lists every demand of the scope first (a
    # million for a district office: two seconds a page).
    return MeetingItem.objects.filter(Exists(scope.demands(user).filter(pk=OuterRef("demand_id"))))


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


def _counts(user: User, meeting: DispatchMeeting) -> dict[str, int]:
    """How many items of the meeting the user sees, and how many wait for a decision."""
    return (
        _scoped_items(user)
        .filter(meeting=meeting)
        .aggregate(total=Count("pk"), undecided=Count("pk", filter=Q(decision="")))
    )


def _page_of_item(user: User, item: MeetingItem) -> int:
    """The page of the agenda an item is on (for the answer to its decision)."""
    created = item.demand.created_at
    before = (
        _scoped_items(user)
        .filter(meeting=item.meeting_id)
        .filter(Q(demand__created_at__lt=created) | Q(demand__created_at=created, pk__lt=item.pk))
        .count()
    )
    return before // PAGE_SIZE + 1


def _items(
    user: User,
    meeting: DispatchMeeting,
    now: dt.datetime,
    *,
    forms: dict[int, DecisionForm] | None = None,
    only: int | None = None,
    page: Page | None = None,
) -> list[MeetingItem]:
    """The meeting's items the user may see (those of ``page``, or the one ``only``),
    each with its light, the link to the demand and whether the user may decide it.

    An item carries a decision form only when ``forms`` has one for it (one sent back
    with its errors, or the one asked for): the form lists every responsible person of
    the district, so the page loads it when the item is opened (``decide``, GET)
    rather than once per item."""
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
        .order_by(*ORDER)
    )
    if only is not None:
        items = items.filter(pk=only)
    elif page is not None:
        # Keys first: sorted with their joins, a district's agenda of thousands of items
        # took SQLite 120–150 ms a page (core.paging).
        count = page.paginator.count
        items = keyed_slice(items, page.start_index() - 1, page.end_index()) if count else []
    items = list(items)
    forms = forms or {}
    may_decide = _may_decide(user)
    for item in items:
        item.light = item.demand.light(now)
        item.detail_url = _detail_url(item.demand_id)
        item.form, item.errors = None, []
        item.decidable = may_decide and not item.decision and item.demand.is_open
        sent = forms.get(item.pk)
        if sent is not None:
            if item.decidable:
                item.form = sent
            else:  # decided or closed meanwhile: say why nothing changed
                item.errors = sent.non_field_errors() if sent.is_bound else []
    return items


def _new_form(item: MeetingItem, now: dt.datetime) -> DecisionForm:
    return DecisionForm(
        prefix=f"item{item.pk}",
        people=responsible_people(),
        now=now,
        due=clock.deadline_after(now, DEFAULT_LIMIT_DAYS, "days"),
    )


def _previous(user: User, meeting: DispatchMeeting):
    if scope_for(user).everything:
        mine = Q(items__isnull=False)
    else:
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
    request: HttpRequest,
    meeting: DispatchMeeting,
    *,
    forms: dict[int, DecisionForm] | None = None,
    page_number: int | str | None = None,
) -> HttpResponse:
    now = timezone.now()
    may_decide = _may_decide(request.user)
    counts = _counts(request.user, meeting)
    # A page past the end (items decided away meanwhile) shows the last one.
    page = Paginator(range(counts["total"]), PAGE_SIZE).get_page(
        page_number or request.GET.get("page")
    )
    items = _items(request.user, meeting, now, forms=forms, page=page)
    context = {
        "meeting": meeting,
        "items": items,
        "page": page,
        **counts,
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
@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    """One item's decision: a responsible person and a time limit (交办).

    GET gives the form: to htmx the form alone (the item opened on the agenda), else
    the agenda's page of the item with its form open (without JavaScript)."""
    _require_meeting_role(request.user)
    item = _get_item_for(request.user, pk)
    if not _may_decide(request.user):
        raise PermissionDenied
    if request.method == "GET":
        return _decision_form(request, item)
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
        number = _page_of_item(request.user, item)
        if decided:
            messages.success(request, _("已记录调度会决定，并通知责任人。"))
            query = f"?page={number}" if number > 1 else ""
            return redirect(_meeting_url(item.meeting) + f"{query}#item-{item.pk}")
        response = _render_meeting(request, item.meeting, forms={item.pk: form}, page_number=number)
        response.status_code = 400
        return response
    # htmx swaps only a 2xx answer in: the item comes back with its errors, or decided.
    (fresh,) = _items(request.user, item.meeting, timezone.now(), forms={item.pk: form}, only=pk)
    counts = _counts(request.user, item.meeting)
    html = render_to_string(
        "demands/meeting.html#item", {"item": fresh, "decided_now": decided}, request
    ) + render_to_string("demands/meeting.html#agenda_count", {**counts, "oob": True}, request)
    return HttpResponse(html)


def _decision_form(request: HttpRequest, item: MeetingItem) -> HttpResponse:
    now = timezone.now()
    form = _new_form(item, now)
    if request.headers.get("HX-Request"):
        (fresh,) = _items(request.user, item.meeting, now, forms={item.pk: form}, only=item.pk)
        if not fresh.decidable:  # decided or closed meanwhile: the item as it is now
            return HttpResponse(
                render_to_string("demands/meeting.html#item", {"item": fresh}, request),
                headers={"HX-Retarget": f"#item-{item.pk}", "HX-Reswap": "outerHTML"},
            )
        return render(request, "demands/meeting.html#decision_form", {"item": fresh})
    number = _page_of_item(request.user, item)
    return _render_meeting(request, item.meeting, forms={item.pk: form}, page_number=number)


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
