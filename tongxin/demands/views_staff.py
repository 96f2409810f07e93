"""The staff side of the loop (社区派单 → 党员接单 → 办结 → 回访): the work list, the
demand page with one form per step, the party members' pool and the inbox.

A step's view parses its form, authorises through :func:`access_demand`, calls one
function of :mod:`tongxin.demands.actions` and redirects back with a message."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import Scope, get_demand_for, scope_for
from tongxin.areas.models import Area
from tongxin.audit.models import AuditEntry, record
from tongxin.core.paging import keyed_page
from tongxin.core.prepared import Prepared
from tongxin.demands import actions, clock
from tongxin.demands.forms_staff import (
    ActionForm,
    DispatchForm,
    MergeForm,
    NoteForm,
    PostponeForm,
    ResolveForm,
    ResumeForm,
    ReturnForm,
    StartForm,
    TransferForm,
    VisitForm,
)
from tongxin.demands.models import (
    OPEN_STATES,
    Attachment,
    Demand,
    DemandEvent,
    EventKind,
    Notification,
    Satisfaction,
    State,
)
from tongxin.people.idnumbers import mask_phone

PAGE_SIZE = 30
CLAIM_PAGE_SIZE = 20
# The same words as actions.claim_demand says when somebody else was quicker.
GONE = gettext_lazy("该诉求已被他人接单或已不在待接单状态。")


# --- who may do what ----------------------------------------------------------------
@dataclass(frozen=True)
class Rights:
    """What one user may do with one demand on these pages."""

    view: bool = False
    dispatch: bool = False  # 派单, 合并, 缓办, 恢复办理, 回访, the reporter's whole phone number
    handle: bool = False  # 开始办理, 办理记录, 办结, 退回, 转办
    claim: bool = False  # 接单: from the party-member pool, or as the assigned handler


def rights_for(user: User, demand: Demand, scope: Scope | None = None) -> Rights:
    scope = scope or scope_for(user)
    dispatch = scope.may_dispatch(demand)
    handler = demand.handler_id is not None and demand.handler_id == user.pk
    claim = demand.state == State.DISPATCHED and (handler or _in_pool_of(user, demand, scope))
    # Staff and party members work here; a resident follows their own demand on the
    # public tracking page, which leaves out the internal notes.
    view = scope.sees_area_tree or scope.sees_party_orgs or handler
    return Rights(view=view, dispatch=dispatch, handle=dispatch or handler, claim=claim)


def _in_pool_of(user: User, demand: Demand, scope: Scope) -> bool:
    """An order in the party-member pool of this member's community (党员接单)."""
    return (
        user.role == UserRole.PARTY_MEMBER
        and demand.pool
        and scope.demands(user).claimable_by(user).filter(pk=demand.pk).exists()
    )


def access_demand(user: User, pk: int, need: str | None = None) -> tuple[Demand, Rights]:
    """The demand and the user's rights on it: 404 outside the user's scope, 403 when
    the page is not for them or ``need`` ("dispatch", "handle", "claim") is not theirs."""
    demand = get_demand_for(user, pk)
    rights = rights_for(user, demand)
    if not rights.view or (need is not None and not getattr(rights, need)):
        raise PermissionDenied
    return demand, rights


def _staff_only(scope: Scope) -> None:
    if not (scope.sees_area_tree or scope.sees_party_orgs):
        raise PermissionDenied


# --- 我的工作 -------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    key: str
    label: Promise
    empty: Promise
    # Which of the user's demands (scope.demands) the tab holds.
    narrow: Callable[[QuerySet[Demand]], QuerySet[Demand]]
    order: tuple[str, ...]
    mine: QuerySet[Demand]
    # A tab of the demands located in the user's area alone (待派单, 待回访), not of
    # those they handle elsewhere: the area (None: everywhere).
    area_only: bool = False
    area: Area | None = None

    @property
    def demands(self) -> QuerySet[Demand]:
        narrowed = self.narrow(self.mine)
        return narrowed.within(self.area) if self.area_only else narrowed


def work_sections(user: User, scope: Scope, now: dt.datetime) -> list[Section]:
    """The tabs of the work list, as this user's role and scope give them. A tab is of
    open demands or of the area's alone (:func:`part_counts` looks outside the area
    for open ones only)."""
    mine = scope.demands(user)
    area = scope.area
    sections = []
    if scope.can_change:
        sections.append(
            Section(
                "dispatch",
                gettext_lazy("待派单"),
                gettext_lazy("新收到的群众诉求和被退回的诉求会出现在这里，等待您派单。"),
                lambda qs: qs.filter(state__in=[State.SUBMITTED, State.RETURNED]),
                ("created_at", "id"),
                mine,
                area_only=True,
                area=area,
            )
        )
    sections.append(
        Section(
            "mine",
            gettext_lazy("我承办的"),
            gettext_lazy("派给您的和您接下的诉求会出现在这里，办结后移出。"),
            lambda qs: qs.handled_by(user).open(),
            ("deadline", "id"),
            mine,
        )
    )
    if user.role == UserRole.PARTY_MEMBER:
        sections.append(
            Section(
                "pool",
                gettext_lazy("可认领"),
                gettext_lazy("社区派到党员认领池的诉求会出现在这里，先接先办。"),
                lambda qs: qs.claimable_by(user),
                ("created_at", "id"),
                mine,
            )
        )
    sections += [
        Section(
            "warning",
            gettext_lazy("即将超期"),
            gettext_lazy("办理时限快用完、尚未办结的诉求会出现在这里（黄灯预警）。"),
            lambda qs: qs.warning(now),
            ("deadline", "id"),
            mine,
        ),
        Section(
            "overdue",
            gettext_lazy("已超期"),
            gettext_lazy("超过办理时限仍未办结的诉求会出现在这里（红灯），并自动逐级升级。"),
            lambda qs: qs.overdue(now),
            ("deadline", "id"),
            mine,
        ),
    ]
    if scope.can_change:
        sections.append(
            Section(
                "visit",
                gettext_lazy("待回访"),
                gettext_lazy("已办结、等待回访群众是否满意的诉求会出现在这里。"),
                lambda qs: qs.filter(state=State.RESOLVED),
                ("resolved_at", "id"),
                mine,
                area_only=True,
                area=area,
            )
        )
    return sections


def part_counts(
    user: User, scope: Scope, sections: list[Section], parts: list | None = None
) -> list[dict[str, int]]:
    """How many demands each tab holds in each of the disjoint parts of the user's
    demands (Scope.demand_parts, or ``parts`` when the caller has them), one dict per
    part: each count is one index range, where a count over the whole (the area OR
    handled by the user) makes PostgreSQL read every open demand there is. A part
    after the first (the open demands handled outside the area, usually none) is
    counted only when it has any (one probe): a fixed number of queries either way.

    The probe asks for open demands only: outside the area every tab is of open ones
    (a tab of closed ones — 待回访 — is of the area's). It counts in the index of a
    handler's demands by state and community, rather than asking whether one exists,
    for which PostgreSQL, expecting thousands, read the whole table to find none."""
    counted = []
    for i, part in enumerate(parts or scope.demand_parts(user)):
        if i and not part.open().order_by().count():
            counted.append(dict.fromkeys((s.key for s in sections), 0))
            continue
        # The first part is the area's demands (all of them for a scope of everything):
        # a tab of the area's alone is counted there without asking for the area a
        # second time — a subquery whose row count PostgreSQL cannot tell, for which
        # the generic plan of a prepared statement read a district's demands community
        # by community (84–134 ms a count, from the tenth on, instead of 1–2 ms) — and
        # holds none of the others.
        counted.append(
            {s.key: 0 if i and s.area_only else s.narrow(part).count() for s in sections}
        )
    return counted


def section_counts(user: User, scope: Scope, sections: list[Section]) -> dict[str, int]:
    """How many demands each tab holds: :func:`part_counts` added up."""
    counted = part_counts(user, scope, sections)
    return {s.key: sum(c[s.key] for c in counted) for s in sections}


def with_lights(demands, now: dt.datetime):
    for d in demands:
        d.light_now = d.light(now)
    return demands


@login_required
def work(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = scope_for(user)
    _staff_only(scope)
    now = timezone.now()
    sections = work_sections(user, scope, now)
    counts = section_counts(user, scope, sections)
    current = next((s for s in sections if s.key == request.GET.get("tab")), None)
    if current is None:
        current = next((s for s in sections if counts[s.key]), sections[0])
    rows = current.demands.select_related(
        "category", "community", "area", "handler", "handler_unit", "department"
    ).order_by(*current.order)
    page = keyed_page(rows, request.GET.get("page"), PAGE_SIZE, count=counts[current.key])
    with_lights(page.object_list, now)
    context = {
        "sections": [(s, counts[s.key]) for s in sections],
        "current": current,
        "page": page,
        "nav_section": "work",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "work":
        return render(request, "demands/work_list.html#work", context)
    return render(request, "demands/work_list.html", context)


# --- 可认领 (the party members' pool) -------------------------------------------------
@login_required
def claim_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role != UserRole.PARTY_MEMBER:
        raise PermissionDenied
    now = timezone.now()
    orders = (
        scope_for(user)
        .demands(user)
        .claimable_by(user)
        .select_related("category", "community", "area")
        .order_by("created_at", "id")
    )
    page = Paginator(orders, CLAIM_PAGE_SIZE).get_page(request.GET.get("page"))
    with_lights(page.object_list, now)
    context = {"page": page, "nav_section": "claim", "refreshed_at": now}
    if request.headers.get("HX-Request"):
        return render(request, "demands/claim_list.html#pool", context)
    return render(request, "demands/claim_list.html", context)


@require_POST
@login_required
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    """接单: a party member takes an order from the pool, or an assignee accepts."""
    user = request.user
    pool_member = user.role == UserRole.PARTY_MEMBER
    try:
        demand, rights = access_demand(user, pk)
    except Http404:
        if not pool_member:
            raise
        # Somebody else took it a moment ago, and with it went this member's view of it.
        messages.error(request, GONE)
        return redirect("demands:claim")
    if demand.handler_id == user.pk and demand.state != State.DISPATCHED:
        messages.info(request, _("您已接下此单，请尽快办理。"))  # a double click
        return redirect("demands:detail", demand.pk)
    if not rights.claim:
        raise PermissionDenied
    try:
        actions.claim_demand(demand, by=user)
    except actions.ActionError as e:
        messages.error(request, e.message)
        return redirect("demands:claim") if pool_member else _back(request, demand)
    messages.success(request, _("接单成功！请尽快联系反映人并办理。"))
    return redirect("demands:detail", demand.pk)


# --- the demand page ----------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One step the demand page offers: its form, the right it takes, and the states
    in which the page shows it (the action itself checks the state again)."""

    form: type[ActionForm]
    need: str
    states: tuple[str, ...]


HANDLING = (State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS)
STEPS: dict[str, Step] = {
    "dispatch": Step(DispatchForm, "dispatch", (State.SUBMITTED, State.RETURNED, State.DISPATCHED)),
    "start": Step(StartForm, "handle", (State.ACCEPTED,)),
    "resolve": Step(ResolveForm, "handle", HANDLING),
    "note": Step(NoteForm, "handle", (*OPEN_STATES, State.RESOLVED)),
    "visit": Step(VisitForm, "dispatch", (State.RESOLVED,)),
    "transfer": Step(TransferForm, "handle", HANDLING),
    "return": Step(ReturnForm, "handle", HANDLING),
    "merge": Step(MergeForm, "dispatch", OPEN_STATES),
    "postpone": Step(PostponeForm, "dispatch", OPEN_STATES),
    "resume": Step(ResumeForm, "dispatch", OPEN_STATES),
}


def _offered(name: str, demand: Demand, rights: Rights) -> bool:
    step = STEPS[name]
    # 缓办 for a demand in hand, 恢复办理 for a postponed one: never both.
    if (name == "postpone" and demand.postponed) or (name == "resume" and not demand.postponed):
        return False
    return getattr(rights, step.need) and demand.state in step.states


# The panels shown folded until asked for: each is drawn when first opened (htmx, or
# without script ``?open=<step>``). Their forms were two thirds of an open demand's
# page — the dispatch form's suggested handlers, the lists of people to transfer to.
FOLDED = ("dispatch", "resolve", "note", "transfer", "return", "merge", "postpone")


@dataclass(frozen=True)
class Folded:
    """A folded panel's place in the page: the URL its form comes from."""

    name: str
    url: str
    lazy: bool = True  # what the template asks to tell it from a form


def _opened(name: str, demand: Demand, bound: ActionForm | None, asked: str) -> bool:
    """Whether a panel is unfolded when the page is drawn."""
    if (bound is not None and bound.prefix == name) or asked == name:
        return True
    if name == "dispatch":
        return demand.state in (State.SUBMITTED, State.RETURNED)
    if name == "resolve":
        return demand.state == State.IN_PROGRESS
    return name not in FOLDED


def _form(
    name: str, request: HttpRequest, demand: Demand, *, bound: bool = False, seen: int | None = None
) -> ActionForm:
    kwargs: dict = {"prefix": name, "seen": seen}
    if name == "merge":
        kwargs["reachable"] = scope_for(request.user).demands(request.user)
    if bound:
        return STEPS[name].form(demand, request.POST, request.FILES, **kwargs)
    return STEPS[name].form(demand, **kwargs)


def _page(
    request: HttpRequest, demand: Demand, rights: Rights, bound: ActionForm | None = None
) -> HttpResponse:
    now = timezone.now()
    # Every demand's page reads these three: queries built once per process.
    events = _PAGE_ROWS.list("events", _events_of, demand.pk)
    # All the demand's photos in one query: the reporter's own (no event) and each
    # step's. The kinds' words once, not get_kind_display per event (it translates
    # every kind's label on each call).
    photos: dict[int | None, list] = defaultdict(list)
    for a in _PAGE_ROWS.list("photos", _photos_of, demand.pk):
        photos[a.event_id].append(a)
    kinds = {value: str(label) for value, label in EventKind.choices}
    for e in events:
        e.photos = photos.get(e.pk, [])
        e.kind_label = kinds.get(e.kind, e.kind)
    seen = events[-1].pk if events else None
    asked = request.GET.get("open", "")
    opened = {name for name in STEPS if _opened(name, demand, bound, asked)}
    forms: dict[str, ActionForm | Folded] = {}
    for name in STEPS:
        if not _offered(name, demand, rights):
            continue
        if bound is not None and bound.prefix == name:
            forms[name] = bound
        elif name in opened:
            forms[name] = _form(name, request, demand, seen=seen)
        else:
            url = reverse("demands:step_form", args=[demand.pk, name])
            forms[name] = Folded(name, f"{url}?seen={seen or ''}")
    share = clock.share_used(demand, now) if demand.is_open else None
    labels = {f.get("code"): f.get("label") for f in demand.category.extra_fields or []}
    context = {
        "d": demand,
        "rights": rights,
        "light": demand.light(now),
        "share": share,
        "share_pct": round(share * 100) if share is not None else None,
        "events": events,
        "photos": photos.get(None, []),
        "forms": forms,
        "opened": opened,
        "extra": [(labels.get(k) or k, v) for k, v in (demand.extra or {}).items()],
        "place": demand.area.full_name(),
        # Only what their links show (the number): most demands have none.
        "merged": _PAGE_ROWS.list("merged", _merged_into, demand.pk),
        "phone_masked": mask_phone(_reporter_phone(demand)),
        "has_phone": bool(_reporter_phone(demand)),
        "nav_section": "work",
    }
    return render(request, "demands/detail.html", context, status=400 if bound else 200)


def _events_of(demand_id: int) -> QuerySet[DemandEvent]:
    return DemandEvent.objects.filter(demand=demand_id).select_related("actor").order_by("at", "id")


def _photos_of(demand_id: int) -> QuerySet[Attachment]:
    return Attachment.objects.filter(demand=demand_id).order_by("pk")


def _merged_into(demand_id: int) -> QuerySet[Demand]:
    return Demand.objects.filter(merged_into=demand_id).order_by("pk").only("pk", "created_at")


_PAGE_ROWS = Prepared(size=3)


def _reporter_phone(demand: Demand) -> str:
    if demand.is_anonymous:
        return ""
    if demand.reporter_phone:
        return demand.reporter_phone
    return demand.reporter.phone if demand.reporter_id else ""


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    demand, rights = access_demand(request.user, pk)
    return _page(request, demand, rights)


@login_required
@require_GET
def step_form(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """A folded panel's form, when it is opened; ``seen`` is the newest event the page
    knew when it was drawn, so a step done from it still refuses what came since."""
    if name not in FOLDED:
        raise Http404
    demand, rights = access_demand(request.user, pk)
    if not _offered(name, demand, rights):
        # Done or no longer offered since the page was drawn (another worker's step).
        return render(request, "demands/detail.html#step-gone", {"d": demand})
    raw = request.GET.get("seen", "")
    seen = int(raw) if raw.isdigit() and len(raw) < 19 else None
    form = _form(name, request, demand, seen=seen)
    return render(request, f"demands/detail.html#step-{name}", {"d": demand, "form": form})


@require_POST
@login_required
def reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The reporter's whole phone number, for those who dispatch; every look is logged."""
    demand, rights = access_demand(request.user, pk, "dispatch")
    record(request, AuditEntry.Action.VIEW_PERSONAL_DATA, demand, "反映人电话")
    return render(
        request,
        "demands/detail.html#phone",
        {
            "d": demand,
            "whole": True,
            "phone": _reporter_phone(demand),
            "rights": rights,
        },
    )


def _back(request: HttpRequest, demand: Demand) -> HttpResponse:
    """To the demand page, unless the step took the demand out of the user's sight (a
    handler who returned or transferred it): then to the work list."""
    if scope_for(request.user).demands(request.user).filter(pk=demand.pk).exists():
        return redirect("demands:detail", demand.pk)
    return redirect("demands:work")


def _step(
    request: HttpRequest, pk: int, name: str, do: Callable[[ActionForm], str]
) -> HttpResponse:
    """Run one step: check the right, validate the form (errors go back into the page),
    then do it once — unless the demand changed since the page was drawn."""
    demand, rights = access_demand(request.user, pk, STEPS[name].need)
    form = _form(name, request, demand, bound=True)
    if not form.is_valid():
        return _page(request, demand, rights, bound=form)
    try:
        with actions.unchanged_since(demand, form.cleaned_data["seen"]):
            done = do(form)
    except actions.ActionError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, done)
    return _back(request, demand)


@require_POST
@login_required
def dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: DispatchForm) -> str:
        where = form.destination()
        actions.dispatch_demand(
            form.demand, by=request.user, note=form.cleaned_data["note"], **where
        )
        target = next(iter(where.values()))
        if target is True:
            return _("已派到党员认领池，社区党员可在“可认领”中接单。")
        return _("已派单给 %(to)s。") % {"to": target}

    return _step(request, pk, "dispatch", do)


@require_POST
@login_required
def start(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: StartForm) -> str:
        actions.start_handling(form.demand, by=request.user, note=form.cleaned_data["note"])
        return _("已开始办理。")

    return _step(request, pk, "start", do)


@require_POST
@login_required
def note(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: NoteForm) -> str:
        data = form.cleaned_data
        actions.add_note(
            form.demand,
            by=request.user,
            text=data["text"],
            public=data["public"],
            photos=data["photos"],
        )
        return _("已答复反映人。") if data["public"] else _("已保存办理记录。")

    return _step(request, pk, "note", do)


@require_POST
@login_required
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: ResolveForm) -> str:
        actions.resolve_demand(form.demand, by=request.user, answer=form.cleaned_data["answer"])
        return _("已办结，答复已告知反映人。")

    return _step(request, pk, "resolve", do)


@require_POST
@login_required
def return_(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: ReturnForm) -> str:
        actions.return_demand(form.demand, by=request.user, reason=form.cleaned_data["reason"])
        return _("已退回社区，等待重新派单。")

    return _step(request, pk, "return", do)


@require_POST
@login_required
def transfer(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: TransferForm) -> str:
        to = form.cleaned_data["to_user"]
        actions.transfer_demand(
            form.demand, by=request.user, to_user=to, reason=form.cleaned_data["reason"]
        )
        return _("已转办给 %(name)s。") % {"name": to}

    return _step(request, pk, "transfer", do)


@require_POST
@login_required
def merge(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: MergeForm) -> str:
        into = form.cleaned_data["into"]
        actions.merge_demand(form.demand, into=into, by=request.user)
        return _("已合并到诉求 %(number)s，将随其一并办理、一并答复。") % {"number": into.number}

    return _step(request, pk, "merge", do)


@require_POST
@login_required
def postpone(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: PostponeForm) -> str:
        actions.postpone_demand(form.demand, by=request.user, reason=form.cleaned_data["reason"])
        return _("已标记为缓办。")

    return _step(request, pk, "postpone", do)


@require_POST
@login_required
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: ResumeForm) -> str:
        d = actions.resume_demand(form.demand, by=request.user, reason=form.cleaned_data["reason"])
        return _("已恢复办理，新的办理时限为 %(deadline)s。") % {
            "deadline": f"{timezone.localtime(d.deadline):%Y-%m-%d %H:%M}"
        }

    return _step(request, pk, "resume", do)


@require_POST
@login_required
def visit(request: HttpRequest, pk: int) -> HttpResponse:
    def do(form: VisitForm) -> str:
        data = form.cleaned_data
        actions.record_return_visit(
            form.demand, by=request.user, satisfaction=data["satisfaction"], comment=data["comment"]
        )
        if data["satisfaction"] == Satisfaction.DISSATISFIED:
            return _("已记录回访：不满意。诉求已重新交办，请跟进返工。")
        return _("已记录回访：%(s)s。诉求已结案。") % {
            "s": Satisfaction(data["satisfaction"]).label
        }

    return _step(request, pk, "visit", do)


# --- 消息 (inbox) ----------------------------------------------------------------------
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notes = Notification.objects.filter(user=request.user).select_related("demand")
    page = Paginator(notes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "demands/inbox.html", {"page": page, "nav_section": "inbox"})


@require_POST
@login_required
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one message read; with ``open`` go on to its demand."""
    actions.mark_notifications_read(request.user, pk)
    if request.POST.get("open"):
        note = Notification.objects.filter(user=request.user, pk=pk).first()
        if note is not None and note.demand_id:
            return redirect("demands:detail", note.demand_id)
    return _to_inbox_page(request)


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    n = actions.mark_notifications_read(request.user)
    if n:
        messages.success(request, _("已将 %(n)d 条消息标为已读。") % {"n": n})
    return _to_inbox_page(request)


def _to_inbox_page(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    response = redirect("demands:inbox")
    if page.isdigit():
        response["Location"] += f"?page={page}"
    return response
