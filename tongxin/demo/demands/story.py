"""One demand's story: the demand and its events as they happened, step by step, each
step the way :mod:`tongxin.demands.actions` takes it, up to today."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tongxin.accounts.models import User
from tongxin.demands import clock
from tongxin.demands.actions import TIER_LIMITS_DAYS, next_meeting_date
from tongxin.demands.models import (
    OPEN_STATES,
    Channel,
    Demand,
    DemandEvent,
    EventKind,
    Notification,
    Satisfaction,
    State,
    Tier,
)
from tongxin.demo.demands import texts
from tongxin.demo.demands.street import Community, present
from tongxin.people.models import CoBuildingUnit

if TYPE_CHECKING:
    from tongxin.demo.demands.planner import Planner


NOTIFY_DAYS = 30  # messages in the inboxes for the last month's events


class Cut(Exception):
    """The story has reached today: what is left of it has not happened yet."""


class Story:
    """A demand and its events as they happened, step by step, up to ``now``."""

    def __init__(self, plan: Planner, d: Demand, community: Community) -> None:
        self.p = plan
        self.d = d
        self.c = community
        self.events: list[DemandEvent] = []
        self.notes: list[Notification] = []
        self.resolutions: list[tuple[dt.datetime, User | None, str]] = []
        self.meeting: dt.date | None = None
        self.decision: dict[str, Any] | None = None
        self.dups: list[Story] = []
        self.merge_into: Story | None = None
        self.merged_by: User | None = None
        self.merged_at: dt.datetime | None = None
        self.template: texts.Template | None = None
        self.fill: dict[str, str] = {}

    def check(self, at: dt.datetime) -> None:
        """Nothing happens after today: checked before a step changes anything."""
        if at > self.p.now:
            raise Cut

    # the ledger
    def event(
        self,
        at: dt.datetime,
        kind: str,
        actor: User | None,
        text: str = "",
        *,
        public: bool = False,
        **data: Any,
    ) -> None:
        if at > self.p.now:
            raise Cut
        if self.events and at < self.events[-1].at:
            at = self.events[-1].at
        self.events.append(
            DemandEvent(
                demand=self.d,
                at=at,
                kind=kind,
                actor=actor,
                text=text,
                public=public,
                state_after=self.d.state,
                tier_after=self.d.tier,
                data=data,
            )
        )

    def notify(self, user: User | None, text: str, at: dt.datetime) -> None:
        if user is None or at < self.p.now - dt.timedelta(days=NOTIFY_DAYS):
            return
        read = at + dt.timedelta(hours=self.p.rng.uniform(0.2, 30))
        unread = read > self.p.now or (self.p.now - at < dt.timedelta(days=2) and self.p.coin(0.5))
        self.notes.append(
            Notification(
                user=user,
                demand=self.d,
                created_at=at,
                text=text[:300],
                read_at=None if unread else read,
            )
        )

    @property
    def open(self) -> bool:
        return self.d.state in OPEN_STATES

    # the steps, as tongxin.demands.actions takes them
    def submit(self) -> None:
        d = self.d
        via = Channel(d.channel).label
        self.event(
            d.created_at,
            EventKind.SUBMITTED,
            d.entered_by,
            f"已收到您的诉求（{via}），社区将尽快派单办理。",
            public=True,
        )
        self.notify(self.dispatcher_now(d.created_at), f"新诉求待派单：{d.title}", d.created_at)

    def dispatcher_now(self, at: dt.datetime) -> User | None:
        return present(self.c.secretary_chain, timezone.localdate(at))

    def dispatch(
        self,
        at: dt.datetime,
        by: User,
        *,
        to: User | None = None,
        pool: bool = False,
        unit: CoBuildingUnit | None = None,
    ) -> None:
        self.check(at)
        d = self.d
        d.state = State.ACCEPTED if unit else State.DISPATCHED
        d.handler, d.pool, d.handler_unit = to, pool, unit
        d.first_response_at = d.first_response_at or at
        if to:
            target, public = str(to), "承办人"
        elif pool:
            target = public = "党员认领池"
        else:
            target = public = str(unit)
        self.event(at, EventKind.DISPATCHED, by, "", to=target)
        self.event(
            at, EventKind.DISPATCHED, by, f"社区已派单（{public}），正在安排办理。", public=True
        )
        if to:
            self.notify(to, f"您有新派单：{d.title}", at)

    def claim(self, at: dt.datetime, by: User) -> None:
        self.check(at)
        self.d.handler, self.d.state, self.d.pool = by, State.ACCEPTED, False
        self.d.first_response_at = self.d.first_response_at or at
        self.event(
            at,
            EventKind.CLAIMED,
            by,
            f"{by.full_name or by.username} 已接单，正在办理。",
            public=True,
        )

    def start(self, at: dt.datetime, by: User | None) -> None:
        self.check(at)
        if self.d.state == State.ACCEPTED:
            self.d.state = State.IN_PROGRESS
            self.event(at, EventKind.STARTED, by)

    def note(self, at: dt.datetime, by: User | None, text: str, *, public: bool = False) -> None:
        self.event(at, EventKind.ANSWER if public else EventKind.NOTE, by, text, public=public)

    def return_(self, at: dt.datetime, by: User | None, reason: str) -> None:
        self.check(at)
        d = self.d
        d.state, d.handler, d.pool, d.handler_unit = State.RETURNED, None, False, None
        self.event(at, EventKind.RETURNED, by, reason)
        self.notify(self.dispatcher_now(at), f"诉求被退回，请重新派单：{d.title}", at)

    def resolve(self, at: dt.datetime, by: User | None, answer: str) -> None:
        self.check(at)
        d = self.d
        d.state, d.public_answer, d.resolved_at = State.RESOLVED, answer, at
        limit = d.first_deadline or d.deadline
        d.resolved_on_time = limit is None or at <= limit
        self.event(at, EventKind.RESOLVED, by, answer, public=True)
        self.resolutions.append((at, by, answer))

    def escalate(self, at: dt.datetime) -> None:
        """What the sweep does a minute after the deadline (actions.escalate_demand)."""
        self.check(at)
        d = self.d
        tier = d.tier + 1
        day = timezone.localdate(at)
        handler, unit, where = self.p.tier_target(self, tier, day)
        if tier == Tier.DISPATCH_MEETING:
            meeting = next_meeting_date(day)
            clock.start_until(d, at, meeting)
            self.meeting = meeting
        else:
            clock.start(d, at, TIER_LIMITS_DAYS[tier], "days")
        d.tier, d.pool = tier, False
        d.handler_unit = unit or d.handler_unit
        d.handler = handler
        if handler:
            d.state = State.DISPATCHED
        label = str(Tier(tier).label)
        self.event(
            at,
            EventKind.ESCALATED,
            None,
            f"超过办理时限，已升级为{label}（{where}）。",
            public=True,
            tier=tier,
        )
        text = f"诉求超期升级为{label}：{d.title}"
        self.notify(handler, text, at)
        above = self.p.level_above(tier, day)
        if above is not None and above != handler:
            self.notify(above, text, at)

    def visit(self, at: dt.datetime, by: User, satisfaction: str, comment: str) -> None:
        self.check(at)
        d = self.d
        label = Satisfaction(satisfaction).label
        text = f"{label}{'：' + comment if comment else ''}"
        d.satisfaction = satisfaction
        if satisfaction == Satisfaction.DISSATISFIED:
            d.rework_count += 1
            d.state = State.ACCEPTED if d.handler else State.RETURNED
            d.resolved_at = d.resolved_on_time = None
            clock.start(d, at, TIER_LIMITS_DAYS.get(2, 5), "days")
            self.event(at, EventKind.VISITED, by, text, satisfaction=satisfaction)
            self.event(at, EventKind.REOPENED, by, "回访不满意，已重新办理。", public=True)
            self.notify(d.handler, f"回访不满意，请重新办理：{d.title}", at)
        else:
            d.state, d.closed_at = State.CLOSED, at
            self.event(at, EventKind.VISITED, by, text, satisfaction=satisfaction)

    def rate(self, at: dt.datetime, satisfaction: str, comment: str) -> None:
        self.check(at)
        self.d.resident_rating = satisfaction
        label = Satisfaction(satisfaction).label
        self.event(
            at,
            EventKind.RATED,
            None,
            f"{label}{'：' + comment if comment else ''}",
            public=True,
            satisfaction=satisfaction,
        )

    def decide(
        self,
        at: dt.datetime,
        by: User,
        *,
        decision: str,
        assignee: User,
        due: dt.datetime,
        minutes: str,
    ) -> None:
        """actions.decide_meeting_item."""
        self.check(at)
        d = self.d
        d.tier, d.state, d.handler, d.pool = (
            Tier.DISPATCH_MEETING,
            State.DISPATCHED,
            assignee,
            False,
        )
        d.clock_started_at, d.deadline = at, due
        d.warn_at = clock.warn_time(at, due)
        d.first_response_at = d.first_response_at or at
        due_text = f"{timezone.localtime(due):%Y-%m-%d %H:%M}"
        self.event(
            at,
            EventKind.MEETING,
            by,
            decision,
            meeting=f"{self.meeting:%Y-%m-%d}",
            assignee=str(assignee),
            assignee_id=assignee.pk,
            due=due_text,
            minutes=minutes,
        )
        self.event(
            at, EventKind.MEETING, by, "区一线办调度会已研究，明确责任人和完成时限。", public=True
        )
        self.decision = {
            "decision": decision,
            "assignee": assignee,
            "due": due,
            "minutes": minutes,
            "decided_at": at,
        }
        self.notify(assignee, f"调度会交办：{d.title}，请于 {due_text} 前办结。", at)

    def postpone(self, at: dt.datetime, by: User, reason: str) -> None:
        self.check(at)
        self.d.postponed = True
        self.event(at, EventKind.POSTPONED, by, reason)

    def withdraw(self, at: dt.datetime, reason: str) -> None:
        self.check(at)
        self.d.state = State.WITHDRAWN
        self.event(at, EventKind.WITHDRAWN, None, reason or "反映人撤回了诉求。", public=True)
