"""Every change to a demand: one function each, one transaction each, each writing its
event (the ledger) and notifying whoever must act next. Pages, the API and the
background sweep all call these; nothing else changes a demand's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level, Responsibility, community_around
from tongxin.core import prepared
from tongxin.core.task_backend import DatabaseBackend
from tongxin.demands import clock, rollup
from tongxin.demands.models import (
    CLOCK_STATES,
    OPEN_STATES,
    Category,
    Channel,
    Demand,
    DemandEvent,
    Department,
    DispatchMeeting,
    EventKind,
    MeetingItem,
    Satisfaction,
    State,
    Tier,
)
from tongxin.demands.notify import announce_task, dispatchers_of, notify
from tongxin.workcal import calendar as workcal

# Time limits for the tiers above the first (the category gives the first).
TIER_LIMITS_DAYS = getattr(settings, "TONGXIN_TIER_LIMITS_DAYS", {2: 5, 3: 10})


class ActionError(Exception):
    """A step that is not possible now; the message is for the person who tried."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _event(demand: Demand, *args, **kwargs) -> DemandEvent:
    """Write the step :func:`_new_event` makes of the same arguments."""
    # Every step writes an event: the one place to mark the past days it changes.
    rollup.touch(demand, kwargs.get("at"))
    return prepared.insert(_new_event(demand, *args, **kwargs))


def _new_event(
    demand: Demand,
    kind: str,
    actor: User | None,
    text: str = "",
    *,
    public: bool = False,
    at: dt.datetime | None = None,
    **data,
) -> DemandEvent:
    return DemandEvent(
        demand=demand,
        kind=kind,
        actor=actor,
        text=text,
        public=public,
        at=at or timezone.now(),
        state_after=demand.state,
        tier_after=demand.tier,
        data=data,
    )


def _locked(demand: Demand) -> Demand:
    """The demand re-read under a row lock, so concurrent steps queue up."""
    return Demand.objects.select_for_update().get(pk=demand.pk)


def _require_state(demand: Demand, *states: str) -> None:
    if demand.state not in states:
        raise ActionError(
            _("该诉求当前状态为「%(state)s」，不能进行此操作。")
            % {"state": demand.get_state_display()}
        )


def community_of(area: Area) -> Area:
    community = community_around(area)
    if community is None:
        raise ActionError(_("诉求必须落在某个社区之内。"))
    return community


def responsible_user(area: Area) -> User | None:
    r = area.responsible_now()
    return r.user if r else None


# --- intake (群众点单) -----------------------------------------------------------------
def submit_demand(
    *,
    area: Area,
    category: Category,
    title: str,
    description: str,
    channel: str = Channel.WEB,
    reporter=None,
    reporter_name: str = "",
    reporter_phone: str = "",
    is_anonymous: bool = False,
    entered_by: User | None = None,
    extra: dict | None = None,
    address: str = "",
    submission_token: str | None = None,
    photos: Sequence = (),
    now: dt.datetime | None = None,
) -> tuple[Demand, bool]:
    """Take in a demand. Returns (demand, created); the same ``submission_token`` twice
    (a double click, a refresh) returns the first demand and ``False``.

    ``photos`` are already-cleaned images (see :mod:`tongxin.demands.photos`). A new
    demand carries the event just written for it as ``submitted_event``, its only step
    so far, for a caller that answers with it (the API) without reading it back.

    A repeated token is found by the unique index, not by a query first: the first
    demand's row makes the INSERT fail, the transaction rolls back (no photo, event or
    job is kept) and the first demand is returned, as it would be when two requests
    with the same token race.

    The dispatchers are told by a job queued in the same transaction
    (:func:`~tongxin.demands.notify.announce_task`): the demand, its event and the job
    are committed together or not at all, and the request does no more than that."""
    now = now or timezone.now()
    try:
        community = community_of(area)
        # What is computed goes before the write transaction (on SQLite it holds the
        # database's one write lock): the deadline, from the working calendar as this
        # process keeps it (workcal: at most a minute behind a change made elsewhere).
        demand = Demand(
            area=area,
            community=community,
            category=category,
            title=title.strip()[:100],
            description=description.strip(),
            channel=channel,
            reporter=reporter,
            reporter_name="" if is_anonymous else reporter_name.strip(),
            reporter_phone="" if is_anonymous else reporter_phone.strip(),
            is_anonymous=is_anonymous,
            entered_by=entered_by,
            extra=extra or {},
            address=address.strip()[:200],
            submission_token=submission_token or None,
            created_at=now,
        )
        clock.start(demand, now, category.time_limit, category.time_unit)
        demand.first_deadline = demand.deadline
        via = Channel(channel).label
        event = _new_event(
            demand,
            EventKind.SUBMITTED,
            entered_by,
            _("已收到您的诉求（%(via)s），社区将尽快派单办理。") % {"via": via},
            public=True,
            at=now,
        )
        demand.submitted_event = event
        # Who is told, and the telling, are the job's: the intake commits the promise
        # with the demand (notify.announce_task), which it finds by its tracking code.
        backend = announce_task.get_backend()
        if (
            not photos
            and isinstance(backend, DatabaseBackend)
            and not rollup.past_days(demand, now)
        ):
            # The three rows written together, their values prepared before the write
            # (on PostgreSQL one statement; on SQLite the write lock held for the
            # writing alone).
            job = backend.row(announce_task, (demand.tracking_code,), {})
            prepared.insert_together(demand, event, job)
            rollup.remember(demand)  # no past day to mark
            backend.enqueued(job)
        else:
            with transaction.atomic():
                prepared.insert(demand)
                for photo in photos:
                    photo.save_to(demand)
                rollup.touch(demand, now)
                prepared.insert(event)
                announce_task.enqueue(demand.tracking_code)
    except (IntegrityError, ActionError):
        # The token was used before (a double click, a retry, two requests racing): the
        # first demand is the answer, whatever this one would have been.
        if submission_token:
            existing = Demand.objects.filter(submission_token=submission_token).first()
            if existing is not None:
                return existing, False
        raise
    return demand, True


# --- dispatch (社区派单) ----------------------------------------------------------------
def suggest_handlers(demand: Demand, limit: int = 5) -> list[tuple[User, str, int]]:
    """Who could take this demand, best first: (user, why, open demands in hand).

    The present responsible persons of the demand's place from the household up to the
    community (absent ones are skipped, as the chain says), then the community's party
    members; fewer open demands first within the same closeness."""
    today = timezone.localdate()
    nodes = [n.pk for n in demand.area.ancestors_and_self() if n.level >= Level.COMMUNITY]
    candidates: dict[int, tuple[User, str, int]] = {}
    # The dispatch form asks on every new demand's page: the query built once per
    # process for each number of places.
    chain = _CHAINS.list(len(nodes), _chain_at, *nodes) if nodes else []
    closeness = 0
    for r in chain:
        if r.is_present(today) and r.user_id not in candidates:
            candidates[r.user_id] = (r.user, f"{r.area.name}·{r.get_role_display()}", closeness)
            closeness += 1
    loads = open_loads(list(candidates))
    ranked = sorted(candidates.values(), key=lambda c: (c[2] // 3, loads.get(c[0].pk, 0), c[2]))
    return [(u, why, loads.get(u.pk, 0)) for u, why, _ in ranked[:limit]]


def _chain_at(*area_ids: int):
    return (
        Responsibility.objects.filter(area__in=area_ids, user__is_active=True)
        .select_related("user", "area")
        .order_by("-area__depth", "position")
    )


_CHAINS = prepared.Prepared(size=8)


def open_loads(user_ids: list[int]) -> dict[int, int]:
    """How many open demands each of these users has in hand (those with none are
    left out): counted in the index of handler and state (demands/0016)."""
    if not user_ids:
        return {}
    meta = Demand._meta
    qn = connection.ops.quote_name
    handler, state = (qn(meta.get_field(f).column) for f in ("handler", "state"))
    sql = (
        f"SELECT {handler}, COUNT(*) FROM {qn(meta.db_table)} "
        f"WHERE {handler} IN ({', '.join(['%s'] * len(user_ids))}) "
        f"AND {state} IN ({', '.join(['%s'] * len(OPEN_STATES))}) GROUP BY {handler}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*user_ids, *OPEN_STATES])
        return dict(cursor.fetchall())


def dispatch_demand(
    demand: Demand,
    *,
    by: User,
    to_user: User | None = None,
    to_pool: bool = False,
    to_unit=None,
    to_department: Department | None = None,
    note: str = "",
) -> Demand:
    """Send a demand to a person, to the party-member pool of its community (open for
    claiming), to a co-building unit or to a department."""
    if sum(bool(x) for x in (to_user, to_pool, to_unit, to_department)) != 1:
        raise ActionError(_("请选择一个派单对象：人员、党员认领池、共建单位或部门之一。"))
    now = timezone.now()
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.SUBMITTED, State.RETURNED, State.DISPATCHED)
        demand.state = State.DISPATCHED
        demand.handler = to_user
        demand.pool = to_pool
        demand.handler_unit = to_unit
        demand.department = to_department
        if to_unit is not None or to_department is not None:
            # A unit or department works through its contact; the demand counts as taken.
            demand.state = State.ACCEPTED
        demand.first_response_at = demand.first_response_at or now
        demand.save()
        if to_user:
            target, public_target = str(to_user), _("承办人")
        elif to_pool:
            target = public_target = _("党员认领池")
        else:
            target = public_target = str(to_unit or to_department)
        _event(demand, EventKind.DISPATCHED, by, note, to=target)
        _event(
            demand,
            EventKind.DISPATCHED,
            by,
            _("社区已派单（%(to)s），正在安排办理。") % {"to": public_target},
            public=True,
        )
        if to_user:
            notify(to_user, _("您有新派单：%(title)s") % {"title": demand.title}, demand)
    return demand


def claim_demand(demand: Demand, *, by: User) -> Demand:
    """A party member takes an order from the pool, or an assignee accepts one (接单).

    Decided by one conditional UPDATE: when two people claim at once, exactly one row
    changes and the other is told the order is gone."""
    now = timezone.now()
    with transaction.atomic():
        from_pool = Q(pool=True, handler__isnull=True)
        assigned = Q(handler=by)
        won = (
            Demand.objects.filter(pk=demand.pk, state=State.DISPATCHED)
            .filter(from_pool | assigned)
            .update(handler=by, state=State.ACCEPTED, pool=False)
        )
        if not won:
            raise ActionError(_("该诉求已被他人接单或已不在待接单状态。"))
        demand = Demand.objects.get(pk=demand.pk)
        if demand.first_response_at is None:
            demand.first_response_at = now
            demand.save(update_fields=["first_response_at"])
        _event(
            demand,
            EventKind.CLAIMED,
            by,
            _("%(name)s 已接单，正在办理。") % {"name": by.full_name or by.username},
            public=True,
        )
    return demand


def start_handling(demand: Demand, *, by: User, note: str = "") -> Demand:
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.ACCEPTED)
        demand.state = State.IN_PROGRESS
        demand.save(update_fields=["state"])
        _event(demand, EventKind.STARTED, by, note)
    return demand


def add_note(
    demand: Demand, *, by: User, text: str, public: bool = False, photos: Sequence = ()
) -> DemandEvent:
    """A handling note (internal) or a public answer to the reporter (公开答复)."""
    if not text.strip():
        raise ActionError(_("请填写办理情况。"))
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, *OPEN_STATES, State.RESOLVED)
        event = _event(
            demand, EventKind.ANSWER if public else EventKind.NOTE, by, text.strip(), public=public
        )
        for photo in photos:
            photo.save_to(demand, event=event, public=public)
        if demand.first_response_at is None:
            demand.first_response_at = event.at
            demand.save(update_fields=["first_response_at"])
    return event


def resolve_demand(
    demand: Demand, *, by: User, answer: str, now: dt.datetime | None = None
) -> Demand:
    """Resolved with a public answer (办结). Demands merged into it get the same answer."""
    if not answer.strip():
        raise ActionError(_("办结时必须填写给居民的答复。"))
    now = now or timezone.now()
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.ACCEPTED, State.IN_PROGRESS, State.DISPATCHED)
        for d in [demand, *demand.merged_demands.select_for_update()]:
            d.state = State.RESOLVED if d.pk == demand.pk else d.state
            d.public_answer = answer.strip()
            if d.pk == demand.pk:
                d.resolved_at = now
                limit = d.first_deadline or d.deadline
                d.resolved_on_time = limit is None or now <= limit
            d.save()
            _event(d, EventKind.RESOLVED, by, answer.strip(), public=True, at=now)
    return demand


def return_demand(demand: Demand, *, by: User, reason: str) -> Demand:
    """The handler sends it back to the dispatcher with a reason (退回)."""
    if not reason.strip():
        raise ActionError(_("退回时必须说明原因。"))
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS)
        demand.state = State.RETURNED
        demand.handler = None
        demand.pool = False
        demand.handler_unit = None
        demand.department = None
        demand.save()
        _event(demand, EventKind.RETURNED, by, reason.strip())
        for user in dispatchers_of(demand.community):
            notify(user, _("诉求被退回，请重新派单：%(title)s") % {"title": demand.title}, demand)
    return demand


def transfer_demand(demand: Demand, *, by: User, to_user: User, reason: str) -> Demand:
    """Hand it on to someone better placed (转办); they accept it as a new dispatch."""
    if not reason.strip():
        raise ActionError(_("转办时必须说明原因。"))
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS)
        demand.handler = to_user
        demand.pool = False
        demand.state = State.DISPATCHED
        demand.save()
        _event(demand, EventKind.TRANSFERRED, by, reason.strip(), to=str(to_user))
        notify(to_user, _("转办给您的诉求：%(title)s") % {"title": demand.title}, demand)
    return demand


def merge_demand(duplicate: Demand, *, into: Demand, by: User) -> Demand:
    """The same problem reported twice: the duplicate follows the main demand, and its
    reporter gets the main demand's answer."""
    if duplicate.pk == into.pk:
        raise ActionError(_("不能把诉求合并到它自己。"))
    with transaction.atomic():
        # Lock both rows in id order, so two opposite merges cannot deadlock.
        list(
            Demand.objects.select_for_update().filter(pk__in=[duplicate.pk, into.pk]).order_by("pk")
        )
        duplicate = Demand.objects.get(pk=duplicate.pk)
        into = Demand.objects.get(pk=into.pk)
        _require_state(duplicate, *OPEN_STATES)
        if into.state in (State.MERGED, State.WITHDRAWN):
            raise ActionError(_("目标诉求已合并或撤回，不能合并到它。"))
        duplicate.state = State.MERGED
        duplicate.merged_into = into
        duplicate.save()
        # Anything merged into the duplicate moves along to the main demand.
        duplicate.merged_demands.update(merged_into=into)
        _event(
            duplicate,
            EventKind.MERGED,
            by,
            _("与同类诉求合并办理（%(number)s），办理结果将一并答复您。") % {"number": into.number},
            public=True,
            into=into.pk,
        )
        _event(
            into,
            EventKind.MERGED,
            by,
            merged=duplicate.pk,
            text=_("合并了诉求 %(number)s") % {"number": duplicate.number},
        )
    return duplicate


def withdraw_demand(demand: Demand, *, reason: str = "", by: User | None = None) -> Demand:
    """The reporter takes it back (撤回), while it is still open."""
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, *OPEN_STATES)
        demand.state = State.WITHDRAWN
        demand.save(update_fields=["state"])
        _event(
            demand, EventKind.WITHDRAWN, by, reason.strip() or _("反映人撤回了诉求。"), public=True
        )
    return demand


def postpone_demand(demand: Demand, *, by: User, reason: str) -> Demand:
    """Marked for deferred handling (缓办): it leaves the denominator of the rates."""
    if not reason.strip():
        raise ActionError(_("缓办时必须说明原因。"))
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, *OPEN_STATES)
        if demand.postponed:
            raise ActionError(_("该诉求已经是缓办状态。"))
        demand.postponed = True
        demand.save(update_fields=["postponed"])
        _event(demand, EventKind.POSTPONED, by, reason.strip())
    return demand


def resume_demand(
    demand: Demand, *, by: User, reason: str, now: dt.datetime | None = None
) -> Demand:
    """Taken up again after 缓办 (恢复办理), e.g. when the year whose plan it was put
    into has come: it counts in the rates again, and its clock starts afresh for the
    tier it stands at — as escalation to that tier starts it — so the sweep can
    escalate it again once that time runs out."""
    if not reason.strip():
        raise ActionError(_("恢复办理时必须说明原因。"))
    now = now or timezone.now()
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, *OPEN_STATES)
        if not demand.postponed:
            raise ActionError(_("该诉求不是缓办状态。"))
        meeting_day = _start_tier_clock(demand, demand.tier, now, demand)
        demand.postponed = False
        demand.save(update_fields=["postponed", "clock_started_at", "warn_at", "deadline"])
        _event(demand, EventKind.RESUMED, by, reason.strip(), at=now)
        if meeting_day is not None:
            _put_on_agenda(demand, meeting_day)
        if demand.handler_id:
            notify(
                demand.handler,
                _("缓办的诉求已恢复办理，请按新的时限办理：%(title)s") % {"title": demand.title},
                demand,
            )
    return demand


# --- feedback (回访, 评价) ---------------------------------------------------------------
def record_return_visit(
    demand: Demand, *, by: User, satisfaction: str, comment: str = ""
) -> Demand:
    """The return visit after resolution. 不满意 reopens the demand as rework (返工)."""
    if satisfaction not in Satisfaction.values:
        raise ActionError(_("请选择满意度。"))
    now = timezone.now()
    with transaction.atomic():
        demand = _locked(demand)
        _require_state(demand, State.RESOLVED)
        demand.satisfaction = satisfaction
        text = (
            f"{Satisfaction(satisfaction).label}{'：' + comment.strip() if comment.strip() else ''}"
        )
        if satisfaction == Satisfaction.DISSATISFIED:
            demand.rework_count += 1
            demand.state = State.ACCEPTED if demand.handler_id else State.RETURNED
            demand.resolved_at = None
            demand.resolved_on_time = None
            clock.start(demand, now, TIER_LIMITS_DAYS.get(2, 5), "days")
            # Rework is a fresh assignment with a fresh limit (escalation is not: a
            # demand that had to move up a tier was, by then, already late).
            demand.first_deadline = demand.deadline
            demand.save()
            _event(demand, EventKind.VISITED, by, text, satisfaction=satisfaction)
            _event(demand, EventKind.REOPENED, by, _("回访不满意，已重新办理。"), public=True)
            if demand.handler_id:
                notify(
                    demand.handler,
                    _("回访不满意，请重新办理：%(title)s") % {"title": demand.title},
                    demand,
                )
        else:
            demand.state = State.CLOSED
            demand.closed_at = now
            demand.save()
            _event(demand, EventKind.VISITED, by, text, public=False, satisfaction=satisfaction)
    return demand


def rate_by_resident(demand: Demand, *, satisfaction: str, comment: str = "") -> Demand:
    """The reporter's own rating on the tracking page: once, after resolution."""
    if satisfaction not in Satisfaction.values:
        raise ActionError(_("请选择满意度。"))
    with transaction.atomic():
        done = [State.RESOLVED, State.CLOSED]
        # A merged duplicate's reporter rates the answer of the demand it was merged into.
        rated = (
            Demand.objects.filter(pk=demand.pk, resident_rating="")
            .filter(Q(state__in=done) | Q(state=State.MERGED, merged_into__state__in=done))
            .update(resident_rating=satisfaction)
        )
        if not rated:
            raise ActionError(_("该诉求已评价过，或尚未办结。"))
        demand = Demand.objects.get(pk=demand.pk)
        _event(
            demand,
            EventKind.RATED,
            None,
            f"{Satisfaction(satisfaction).label}{'：' + comment.strip() if comment.strip() else ''}",
            public=True,
            satisfaction=satisfaction,
        )
    return demand


# --- escalation (升级) ------------------------------------------------------------------
def _next_tier_target(demand: Demand, tier: int) -> tuple[User | None, object, str]:
    """(handler, unit, where) for a demand moving up to ``tier``."""
    community = demand.community
    if tier == Tier.TIME_LIMITED:
        return responsible_user(community), None, community.name
    street = community.ancestor_at(Level.STREET) or community
    if tier == Tier.COORDINATED:
        unit = demand.category.default_unit or community.co_building_units.first()
        return responsible_user(street), unit, street.name
    district = community.ancestor_at(Level.DISTRICT) or street
    handler = (
        responsible_user(district)
        or User.objects.filter(role=UserRole.DISTRICT_OFFICE, is_active=True).order_by("pk").first()
    )
    return handler, None, district.name


def next_meeting_date(today: dt.date) -> dt.date:
    """The district office meets on the 25th — this month's if it is still ahead — or,
    when the 25th is a weekend or holiday, on the next working day after it."""
    if today.day < 25:
        day = today.replace(day=25)
    else:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        day = dt.date(year, month, 25)
    for _attempt in range(15):
        if workcal.is_workday(day):
            return day
        day += dt.timedelta(days=1)
    return day


def _start_tier_clock(
    clocked: Demand, tier: int, now: dt.datetime, demand: Demand
) -> dt.date | None:
    """(Re)start the clock of ``clocked`` (the demand, or a stand-in for it) at ``now``
    with the time limit of ``tier``: ``demand``'s category's for T1, TIER_LIMITS_DAYS
    for T2 and T3, and for T4 until the next dispatch meeting, whose day is returned
    (None for the other tiers)."""
    if tier == Tier.DISPATCH_MEETING:
        meeting_day = next_meeting_date(timezone.localdate(now))
        clock.start_until(clocked, now, meeting_day)
        return meeting_day
    if tier == Tier.ON_SITE:
        clock.start(clocked, now, demand.category.time_limit, demand.category.time_unit)
    else:
        clock.start(clocked, now, TIER_LIMITS_DAYS[tier], "days")
    return None


def _put_on_agenda(demand: Demand, meeting_day: dt.date) -> None:
    """On the agenda of the dispatch meeting of ``meeting_day`` (made if need be)."""
    meeting, _created = DispatchMeeting.objects.get_or_create(date=meeting_day)
    MeetingItem.objects.get_or_create(meeting=meeting, demand=demand)


def escalate_demand(pk: int, *, now: dt.datetime) -> bool:
    """Move one overdue demand up a tier. True when this call did it.

    The row is changed by a conditional UPDATE on the tier and deadline it was read
    with, so when two sweeps reach the same demand at once exactly one escalates it."""
    demand = Demand.objects.select_related("category", "community").get(pk=pk)
    if not (demand.is_overdue(now) and demand.tier < Tier.DISPATCH_MEETING):
        return False
    if demand.postponed:  # 缓办: deliberately deferred, not forgotten
        return False
    tier = demand.tier + 1
    handler, unit, where = _next_tier_target(demand, tier)
    trial = Demand(pk=demand.pk, created_at=demand.created_at)
    meeting_day = _start_tier_clock(trial, tier, now, demand)
    with transaction.atomic():
        won = Demand.objects.filter(
            pk=pk, tier=demand.tier, deadline=demand.deadline, state__in=CLOCK_STATES
        ).update(
            tier=tier,
            handler=handler,
            handler_unit=unit or demand.handler_unit,
            pool=False,
            state=State.DISPATCHED if handler else demand.state,
            clock_started_at=trial.clock_started_at,
            warn_at=trial.warn_at,
            deadline=trial.deadline,
        )
        if not won:
            return False
        demand.refresh_from_db()
        label = Tier(tier).label
        _event(
            demand,
            EventKind.ESCALATED,
            None,
            _("超过办理时限，已升级为%(tier)s（%(where)s）。") % {"tier": label, "where": where},
            public=True,
            at=now,
            tier=tier,
        )
        if meeting_day is not None:
            _put_on_agenda(demand, meeting_day)
        text = _("诉求超期升级为%(tier)s：%(title)s") % {"tier": label, "title": demand.title}
        told = set()
        if handler:
            notify(handler, text, demand)
            told.add(handler.pk)
        above = _level_above(demand, tier)
        if above is not None and above.pk not in told:
            notify(above, text, demand)
    return True


def _level_above(demand: Demand, tier: int) -> User | None:
    community = demand.community
    street = community.ancestor_at(Level.STREET)
    district = community.ancestor_at(Level.DISTRICT)
    chain = {Tier.TIME_LIMITED: street, Tier.COORDINATED: district, Tier.DISPATCH_MEETING: district}
    area = chain.get(tier)
    return responsible_user(area) if area is not None else None


def sweep_deadlines(now: dt.datetime | None = None, batch: int = 500) -> int:
    """Escalate every overdue demand once. Safe to run often, and twice at once: its
    cost follows the due rows (an index on state and deadline), not the table."""
    now = now or timezone.now()
    due = list(
        Demand.objects.filter(
            state__in=CLOCK_STATES,
            deadline__lte=now,
            tier__lt=Tier.DISPATCH_MEETING,
            postponed=False,
        )
        .order_by("deadline")
        .values_list("pk", flat=True)[:batch]
    )
    return sum(escalate_demand(pk, now=now) for pk in due)


# --- the staff pages: one step per form, and the inbox ---------------------------------
def last_event_id(demand: Demand) -> int | None:
    """The id of the newest event: what a page knew of the demand when it was drawn."""
    return demand.events.order_by("-id").values_list("id", flat=True).first()


def unchanged_since(demand: Demand, seen: int | None):
    """Go on only if nothing has happened to the demand since a page showed it
    (``seen`` is that page's :func:`last_event_id`), so a form sent twice — a double
    click, a refresh, a second tab, two colleagues at once — does its step once.

    Use as ``with unchanged_since(demand, seen): dispatch_demand(...)``: the row stays
    locked until the step is done, so the second request waits and then finds the
    first one's event."""
    from contextlib import contextmanager

    @contextmanager
    def guard():
        with transaction.atomic():
            _locked(demand)
            if seen is None or last_event_id(demand) != seen:
                raise ActionError(_("该诉求刚有新的进展，请查看最新情况后再操作。"))
            yield

    return guard()


def mark_notifications_read(user: User, pk: int | None = None) -> int:
    """Mark one of the user's messages (or all of them) read; returns how many changed.
    Only unread rows are touched, so doing it twice changes nothing the second time."""
    from tongxin.demands.models import Notification

    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if pk is not None:
        unread = unread.filter(pk=pk)
    return unread.update(read_at=timezone.now())


# --- the T4 dispatch meeting (区一线办调度会) -------------------------------------------
def agenda_meeting(*, now: dt.datetime | None = None) -> DispatchMeeting:
    """The meeting whose agenda is being prepared, with every open T4 demand that waits
    for it put on it: the earliest meeting not yet held from today on (so on the 25th,
    that day's meeting until it is marked held), else the next 25th's."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        meeting = (
            DispatchMeeting.objects.filter(held=False, date__gte=today).order_by("date").first()
        )
        day = next_meeting_date(today)
        while meeting is None:  # skipping a meeting marked held ahead of its day
            meeting, _created = DispatchMeeting.objects.get_or_create(date=day)
            if meeting.held:
                meeting, day = None, next_meeting_date(day)
        fill_meeting_agenda(meeting, now=now)
    return meeting


def fill_meeting_agenda(meeting: DispatchMeeting, *, now: dt.datetime | None = None) -> int:
    """Put on ``meeting``'s agenda each open T4 demand that waits for a meeting: one no
    meeting has decided on yet, or one whose decided time limit has passed (督办) —
    unless it already stands undecided on an agenda still to be held. Returns how many
    items were added; a held meeting gets none."""
    from django.db.models import Exists, OuterRef

    if meeting.held:
        return 0
    now = now or timezone.now()
    pending = MeetingItem.objects.undecided().filter(demand=OuterRef("pk"), meeting__held=False)
    decided = MeetingItem.objects.filter(demand=OuterRef("pk")).exclude(decision="")
    waiting = list(
        # The tier in the SQL, so that the planners use the index of T4 demands
        # ("demand_meeting_tier"), not every open demand of the district.
        Demand.objects.filter(state__in=OPEN_STATES, tier__constant=int(Tier.DISPATCH_MEETING))
        .exclude(Exists(pending))
        .exclude(Exists(decided), deadline__gt=now)
        .exclude(meeting_items__meeting=meeting)
        .order_by()
        .values_list("pk", flat=True)
    )
    MeetingItem.objects.bulk_create(
        [MeetingItem(meeting=meeting, demand_id=pk) for pk in waiting], ignore_conflicts=True
    )
    return len(waiting)


def decide_meeting_item(
    item: MeetingItem,
    *,
    by: User,
    decision: str,
    assignee: User,
    due: dt.datetime,
    minutes: str = "",
    now: dt.datetime | None = None,
) -> MeetingItem:
    """The meeting's decision on one demand (调度会决定): a named responsible person and a
    time limit. The demand goes to that person (已派单, they accept it as any order) with
    its clock restarted to end at ``due``. The same decision sent twice (a double
    submit) is recorded once; a different second decision is refused."""
    decision, minutes = decision.strip(), minutes.strip()
    if not decision:
        raise ActionError(_("请填写调度会的决定。"))
    now = now or timezone.now()
    if due <= now:
        raise ActionError(_("完成时限必须晚于现在。"))
    if not assignee.is_active:
        raise ActionError(_("责任人的账号已停用，请另选责任人。"))
    with transaction.atomic():
        item = MeetingItem.objects.select_for_update().select_related("meeting").get(pk=item.pk)
        if item.decision:
            if (item.decision, item.assignee_id, item.due) == (decision, assignee.pk, due):
                return item
            raise ActionError(_("调度会已对该诉求作出决定，不能重复决定。"))
        demand = _locked(item.demand)
        _require_state(demand, *OPEN_STATES)
        item.minutes, item.decision, item.assignee, item.due = minutes, decision, assignee, due
        item.decided_at = now
        item.save()
        demand.tier = Tier.DISPATCH_MEETING
        demand.state = State.DISPATCHED
        demand.handler, demand.pool = assignee, False
        demand.clock_started_at, demand.deadline = now, due
        demand.warn_at = clock.warn_time(now, due)
        demand.first_response_at = demand.first_response_at or now
        demand.save()
        due_text = f"{timezone.localtime(due):%Y-%m-%d %H:%M}"
        _event(
            demand,
            EventKind.MEETING,
            by,
            decision,
            at=now,
            meeting=f"{item.meeting.date:%Y-%m-%d}",
            assignee=str(assignee),
            assignee_id=assignee.pk,
            due=due_text,
            minutes=minutes,
        )
        _event(
            demand,
            EventKind.MEETING,
            by,
            _("区一线办调度会已研究，明确责任人和完成时限。"),
            public=True,
            at=now,
        )
        notify(
            assignee,
            _("调度会交办：%(title)s，请于 %(due)s 前办结。")
            % {"title": demand.title, "due": due_text},
            demand,
        )
    return item


def record_meeting(meeting: DispatchMeeting, *, notes: str, held: bool = True) -> DispatchMeeting:
    """Keep the meeting's minutes (会议纪要) and mark it held; its undecided items then
    move on to the next meeting's agenda (:func:`fill_meeting_agenda`)."""
    DispatchMeeting.objects.filter(pk=meeting.pk).update(held=held, notes=notes.strip())
    meeting.refresh_from_db()
    return meeting
