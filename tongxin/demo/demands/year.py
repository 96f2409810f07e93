"""The year: how many demands end which way, planned through the planner, with the
duplicates and the meetings; then written in one transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from tongxin.areas.models import Responsibility
from tongxin.demands import clock
from tongxin.demands.actions import TIER_LIMITS_DAYS, next_meeting_date
from tongxin.demands.models import (
    DONE_STATES,
    OPEN_STATES,
    Category,
    Channel,
    Demand,
    DemandEvent,
    DispatchMeeting,
    EventKind,
    MeetingItem,
    Notification,
    State,
    Tier,
)
from tongxin.demo.demands import texts
from tongxin.demo.demands.planner import ONE_MINUTE, Planner
from tongxin.demo.demands.story import Cut, Story
from tongxin.demo.demands.street import Street

# What becomes of them (shares of all demands). Resolved 80.5% in all: most at T1,
# some after one or two escalations, a few through the T4 meeting.
OUTCOMES: tuple[tuple[str, float], ...] = (
    ("done1", 0.694),
    ("done2", 0.070),
    ("done3", 0.025),
    ("done4", 0.016),
    ("postponed4", 0.015),  # decided at a meeting: into next year's plan (缓办)
    ("open", 0.032),  # in hand today at T1–T3
    ("open4_wait", 0.0025),  # at T4, on the next meeting's agenda
    ("open4_decided", 0.002),  # decided at the last meeting, time limit ahead
    ("open4_red", 0.0015),  # decided, time limit passed: red, back on the agenda
    ("merged", 0.095),
    ("withdrawn", 0.047),
)


# --- the whole year ---------------------------------------------------------------------
def _counts(total: int) -> dict[str, int]:
    """How many of each outcome: the shares of :data:`OUTCOMES`, largest remainder."""
    raw = {k: total * share for k, share in OUTCOMES}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def plan_year(p: Planner, total: int) -> tuple[list[Story], dict[dt.date, list[Story]]]:
    rng = p.rng
    wanted = _counts(max(total, 1))
    stories: list[Story] = []
    keepers: list[Story] = []  # demands a duplicate may join
    made = defaultdict(int)
    today = p.now.date()

    def done_at_tier(outcome: str, tier: int) -> Story | None:
        for _attempt in range(6):
            latest = p.now - dt.timedelta(days=(3, 20, 40, 70)[tier - 1])
            if latest <= p.start:
                return None
            channel, t0 = p.intake(p.start, latest)
            story = p.new_demand(t0, channel=channel)
            spot = tier == 1 and channel == Channel.STATION_DAY and rng.random() < 0.5
            returned = rng.random() < 0.05
            if tier == 1:
                plans = [
                    lambda s=story, spot=spot, ret=returned: p.tier1_steps(
                        s, resolve=rng.uniform(0.15, 0.92), on_the_spot=spot, returned=ret
                    )
                ]
            else:
                plans = [lambda s=story, ret=returned: p.tier1_steps(s, resolve=None, returned=ret)]
                for t in range(2, tier + 1):
                    plans.append(
                        lambda s=story, t=t: p.upper_steps(
                            s, t, resolve=rng.uniform(0.3, 0.9) if t == tier else None
                        )
                    )
            p.play(story, plans)
            if story.d.state == State.RESOLVED and story.d.tier == tier:
                p.after_resolution(story, allow_rework=True)
                return story
        return None

    def at_t4(outcome: str) -> Story | None:
        """A demand whose T4 escalation falls before the meeting the outcome needs."""
        past = [m for m in _meeting_days(p) if m < today]
        # The meeting still to come: today's on the 25th (see actions.agenda_meeting).
        upcoming = today if today.day == 25 else next_meeting_date(today)
        for _attempt in range(8):
            if outcome == "open4_wait":
                meeting = upcoming
            elif outcome == "open4_decided":
                meeting = past[-1] if past else None
            elif outcome == "open4_red":
                meeting = rng.choice(past[-3:-1]) if len(past) >= 3 else None
            else:
                meeting = rng.choice(past[2:]) if len(past) > 2 else None
            if meeting is None:
                return None
            target = dt.datetime.combine(
                meeting - dt.timedelta(days=rng.randint(4, 26)), dt.time(12), tzinfo=p.now.tzinfo
            )
            if outcome == "open4_wait":
                target = min(target, p.now - dt.timedelta(hours=2))
            code, _w, _place, _tpls = p.pick(
                [(x, x[1] * (3 if x[0] in texts.LEAD_UNIT else 1)) for x in p.category_pool]
            )
            t0 = target - dt.timedelta(days=45)
            for _ in range(6):  # move the intake until the escalation lands in its month
                reach = _t4_reached(p, t0, p.s.categories[code])
                if next_meeting_date(timezone.localdate(reach)) == meeting and reach <= p.now:
                    break
                t0 += target - reach
            else:
                continue
            if t0 < p.start:
                continue
            channel, t0 = p.intake(t0 - dt.timedelta(hours=3), t0 + dt.timedelta(hours=3))
            story = p.new_demand(t0, code=code, channel=channel)
            plans = [
                lambda s=story: p.tier1_steps(s, resolve=None),
                lambda s=story: p.upper_steps(s, 2, resolve=None),
                lambda s=story: p.upper_steps(s, 3, resolve=None),
                lambda s=story: p.t4_steps(s, outcome),
            ]
            p.play(story, plans)
            d = story.d
            ok = d.tier == Tier.DISPATCH_MEETING and story.meeting == meeting
            if outcome == "done4":
                ok = ok and d.state == State.RESOLVED
            elif outcome == "open4_wait":
                ok = ok and story.decision is None and story.open
            else:
                ok = ok and story.decision is not None and story.open
            if outcome == "open4_red":
                ok = ok and d.deadline <= p.now
            if ok:
                if outcome == "done4":
                    p.after_resolution(story, allow_rework=False)
                return story
        return None

    def in_hand() -> Story:
        """Taken in lately and not done yet: the simulation stops at today."""
        back = rng.choice((0.3, 2, 5, 9, 14, 20)) * rng.uniform(0.3, 1.0)
        lo = max(p.start, p.now - dt.timedelta(days=back + 0.5))
        channel, t0 = p.intake(lo, p.now - dt.timedelta(minutes=20))
        story = p.new_demand(t0, channel=channel)
        returned = rng.random() < 0.08
        p.play(
            story,
            [
                lambda s=story: p.tier1_steps(s, resolve=None, returned=returned),
                lambda s=story: p.upper_steps(s, 2, resolve=None),
                lambda s=story: p.upper_steps(s, 3, resolve=None),
            ],
        )
        return story

    def withdrawn() -> Story:
        channel, t0 = p.intake(p.start, p.now - dt.timedelta(days=2))
        story = p.new_demand(t0, channel=channel)
        d = story.d
        share = rng.uniform(0.03, 0.4)
        reason = rng.choice(texts.WITHDRAW_REASONS)
        steps = [s for s in p.tier1_steps(story, resolve=None) if s[0] < p.at_share(d, share)]
        steps.append((p.at_share(d, share), lambda t: story.withdraw(t, reason)))
        p.play(story, [lambda: steps])
        return story

    plan_order = [
        ("done4", lambda: at_t4("done4")),
        ("postponed4", lambda: at_t4("postponed4")),
        ("open4_wait", lambda: at_t4("open4_wait")),
        ("open4_decided", lambda: at_t4("open4_decided")),
        ("open4_red", lambda: at_t4("open4_red")),
        ("done3", lambda: done_at_tier("done3", 3)),
        ("done2", lambda: done_at_tier("done2", 2)),
        ("done1", lambda: done_at_tier("done1", 1)),
        ("open", in_hand),
        ("withdrawn", withdrawn),
    ]
    for outcome, make in plan_order:
        for _ in range(wanted[outcome]):
            story = make()
            if story is None:  # the window is too short for it: one in hand instead
                story, outcome_made = in_hand(), "open"
            else:
                outcome_made = outcome
            made[outcome_made] += 1
            stories.append(story)
            d = story.d
            if (
                d.state in OPEN_STATES or d.state in DONE_STATES
            ) and d.tier < Tier.DISPATCH_MEETING:
                keepers.append(story)

    # Duplicates: the same problem again from a neighbour, merged into the first report.
    placeable = [s for s in keepers if texts.TEMPLATES[s.d.category.code][1]]
    for _ in range(wanted["merged"]):
        dup = _duplicate(p, placeable)
        if dup is not None:
            stories.append(dup)

    meetings: dict[dt.date, list[Story]] = {m: [] for m in _meeting_days(p)}
    for s in stories:
        if s.meeting is not None:
            meetings.setdefault(s.meeting, []).append(s)
    # What actions.fill_meeting_agenda puts on the next agenda: open T4 demands not
    # waiting undecided for a meeting still to come, never decided or past their limit.
    upcoming = min((m for m in meetings if m >= today), default=next_meeting_date(today))
    for s in stories:
        if not (s.open and s.d.tier == Tier.DISPATCH_MEETING) or s.meeting == upcoming:
            continue
        waiting = s.decision is None and s.meeting is not None and s.meeting >= today
        if not waiting and (s.decision is None or s.d.deadline <= p.now):
            meetings[upcoming].append(s)
    stories.sort(key=lambda s: (s.d.created_at, s.d.tracking_code))
    return stories, meetings


def _meeting_days(p: Planner) -> list[dt.date]:
    """The 25ths from the first month of the period up to the next one."""
    day = next_meeting_date(p.start.date())
    last = next_meeting_date(p.now.date())
    out = []
    while day <= last:
        out.append(day)
        day = next_meeting_date(day)
    return out


def _t4_reached(p: Planner, t0: dt.datetime, category: Category) -> dt.datetime:
    """When a demand taken in at ``t0`` and never resolved reaches T4."""
    deadline = clock.deadline_after(t0, category.time_limit, category.time_unit)
    for tier in (2, 3):
        deadline = clock.deadline_after(deadline + ONE_MINUTE, TIER_LIMITS_DAYS[tier], "days")
    return deadline + ONE_MINUTE


def _duplicate(p: Planner, mains: list[Story]) -> Story | None:
    rng = p.rng
    for _attempt in range(10):
        main = rng.choice(mains)
        md = main.d
        first_answer = main.resolutions[0][0] if main.resolutions else p.now
        lo = md.created_at + dt.timedelta(hours=1)
        hi = min(
            md.created_at + dt.timedelta(days=3),
            first_answer - dt.timedelta(hours=3),
            p.now - dt.timedelta(hours=1),
        )
        if hi <= lo:
            continue
        channel, t0 = p.intake(lo, hi)
        t = main.template
        alt = t._replace(title=t.alt_title)
        story = p.new_demand(
            t0,
            community=main.c,
            code=md.category.code,
            template=alt,
            channel=channel,
            place=md.area,
        )
        story.fill = main.fill
        story.d.title = t.alt_title.format(**main.fill)[:100]
        story.d.description = t.description.format(**main.fill)
        merged = p.after(t0, rng.uniform(0.2, 6))
        if merged >= min(first_answer, p.now):
            continue
        by = rng.choice(main.c.workers)
        try:
            story.submit()
            story.d.state = State.MERGED
            story.event(merged, EventKind.MERGED, by, "", public=True)  # text needs numbers
            story.merged_by, story.merged_at = by, merged
        except Cut:
            continue
        story.merge_into = main
        main.dups.append(story)
        for at, resolver, answer in main.resolutions:  # resolve_demand answers them too
            story.d.public_answer = answer
            story.event(at, EventKind.RESOLVED, resolver, answer, public=True)
        return story
    return None


# --- writing ----------------------------------------------------------------------------
def write_year(
    street: Street, stories: list[Story], meetings: dict[dt.date, list[Story]], now: dt.datetime
) -> dict[str, int]:
    with transaction.atomic():
        new_chains = [
            r
            for chain in (street.street_chain, street.district_chain)
            for r in chain
            if r.pk is None
        ]
        Responsibility.objects.bulk_create(new_chains)
        demands = [s.d for s in stories]
        Demand.objects.bulk_create(demands, batch_size=1000)
        dups = [s for s in stories if s.merge_into is not None]
        for s in dups:
            s.d.merged_into = s.merge_into.d
        Demand.objects.bulk_update([s.d for s in dups], ["merged_into"], batch_size=500)
        events: list[DemandEvent] = []
        for s in stories:
            for dup in s.dups:  # the main demand's side of each merge (actions.merge_demand)
                s.events.append(
                    DemandEvent(
                        demand=s.d,
                        at=dup.merged_at,
                        kind=EventKind.MERGED,
                        actor=dup.merged_by,
                        text=f"合并了诉求 {_number(dup.d)}",
                        state_after=_state_at(s, dup.merged_at),
                        tier_after=_tier_at(s, dup.merged_at),
                        data={"merged": dup.d.pk},
                    )
                )
            if s.merge_into is not None:
                for e in s.events:
                    if e.kind == EventKind.MERGED:
                        main = _number(s.merge_into.d)
                        e.text = f"与同类诉求合并办理（{main}），办理结果将一并答复您。"
                        e.data = {"into": s.merge_into.d.pk}
            s.events.sort(key=lambda e: e.at)
            events += s.events
        DemandEvent.objects.bulk_create(events, batch_size=2000)

        rows = [
            DispatchMeeting(
                date=day,
                held=day < now.date(),
                notes=(
                    (
                        texts.MEETING_NOTES.format(n=len(items))
                        if items
                        else texts.MEETING_NOTES_EMPTY
                    )
                    if day < now.date()
                    else ""
                ),
            )
            for day, items in sorted(meetings.items())
        ]
        DispatchMeeting.objects.bulk_create(rows)
        by_day = {m.date: m for m in rows}
        items = []
        for day, on_agenda in sorted(meetings.items()):
            for s in on_agenda:
                decided = s.decision if s.meeting == day else None
                items.append(
                    MeetingItem(
                        meeting=by_day[day],
                        demand=s.d,
                        minutes=decided["minutes"] if decided else "",
                        decision=decided["decision"] if decided else "",
                        assignee=decided["assignee"] if decided else None,
                        due=decided["due"] if decided else None,
                        decided_at=decided["decided_at"] if decided else None,
                    )
                )
        MeetingItem.objects.bulk_create(items)
        notes = [n for s in stories for n in s.notes]
        Notification.objects.bulk_create(notes, batch_size=2000)

    states = defaultdict(int)
    for d in demands:
        states[d.state] += 1
    return {
        "demands": len(demands),
        "resolved": states[State.RESOLVED] + states[State.CLOSED],
        "closed": states[State.CLOSED],
        "open": sum(states[x] for x in OPEN_STATES),
        "postponed": sum(1 for d in demands if d.postponed and d.state in OPEN_STATES),
        "open_t4": sum(
            1
            for d in demands
            if d.tier == Tier.DISPATCH_MEETING and d.state in OPEN_STATES and not d.postponed
        ),
        "merged": states[State.MERGED],
        "withdrawn": states[State.WITHDRAWN],
        "events": len(events),
        "meetings": len(rows),
        "meeting_items": len(items),
        "notifications": len(notes),
    }


def _number(d: Demand) -> str:
    """Demand.number as merge_demand writes it: of a demand read back from the database,
    whose ``created_at`` comes in UTC."""
    return Demand(pk=d.pk, created_at=d.created_at.astimezone(dt.UTC)).number


def _state_at(story: Story, at: dt.datetime) -> str:
    state = State.SUBMITTED
    for e in story.events:
        if e.at > at:
            break
        state = e.state_after
    return state


def _tier_at(story: Story, at: dt.datetime) -> int:
    tier = Tier.ON_SITE
    for e in story.events:
        if e.at > at:
            break
        tier = e.tier_after
    return tier
