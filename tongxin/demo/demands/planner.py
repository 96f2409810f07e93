"""When, where and who: the moments and places of intake, the handlers along the
chains, the steps of each tier, and playing a story through them to its end or today."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any

from django.utils import timezone

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level
from tongxin.demands import clock
from tongxin.demands.models import (
    CLOCK_STATES,
    Channel,
    Demand,
    Satisfaction,
    State,
    Tier,
)
from tongxin.demo import names
from tongxin.demo.demands import texts
from tongxin.demo.demands.story import Cut, Story
from tongxin.demo.demands.street import Community, Street, present
from tongxin.workcal import calendar as workcal

# A step of a tier's plan: when, and what happens then.
Step = tuple[dt.datetime, Callable[[dt.datetime], None]]

CHANNELS: tuple[tuple[str, float], ...] = (
    (Channel.WEB, 36),
    (Channel.HOTLINE, 14),
    (Channel.HALL, 12),
    (Channel.STATION_DAY, 10),
    (Channel.VISIT, 10),
    (Channel.WECHAT, 9),
    (Channel.QQ, 3),
    (Channel.SUGGESTION_BOX, 3),
    (Channel.WISH_WALL, 3),
)
# Fewer around the Spring Festival, more in the wet summer (drains, roofs, noise).
MONTH_WEIGHT = {
    1: 0.9,
    2: 0.7,
    3: 0.95,
    4: 1.0,
    5: 1.05,
    6: 1.15,
    7: 1.2,
    8: 1.15,
    9: 1.0,
    10: 0.9,
    11: 1.0,
    12: 0.95,
}
SATISFACTION = (
    (Satisfaction.SATISFIED, 84),
    (Satisfaction.BASICALLY, 13),
    (Satisfaction.DISSATISFIED, 3),
)
RATING = (
    (Satisfaction.SATISFIED, 80),
    (Satisfaction.BASICALLY, 16),
    (Satisfaction.DISSATISFIED, 4),
)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
ONE_MINUTE = dt.timedelta(minutes=1)


class Planner:
    """The one source of chance and time for a year of stories: ``rng`` and ``now``."""

    def __init__(self, street: Street, rng: random.Random, now: dt.datetime, months: int) -> None:
        self.s = street
        self.rng = rng
        self.now = now
        self.start = now - dt.timedelta(days=round(months * 365.25 / 12))
        self.codes: set[str] = set()
        self.phones: set[str] = set()
        self.district_office = (
            present(street.district_chain, now.date())
            or User.objects.filter(role=UserRole.DISTRICT_OFFICE).order_by("pk").first()
        )
        cats = [
            (code, w, place, tpl)
            for code, (w, place, tpl) in texts.TEMPLATES.items()
            if code in street.categories
        ]
        self.category_pool = cats
        community_weight = {n: w for n, w, _ in names.COMMUNITIES}
        self.community_weights = [
            community_weight.get(c.area.name, 1.0) for c in street.communities
        ]

    # --- small helpers ---------------------------------------------------------------
    def coin(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        return self.rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]

    def after(self, t: dt.datetime, hours: float) -> dt.datetime:
        """``hours`` of working time after ``t`` (with a random second, as people act)."""
        return workcal.add_working_hours(t, hours) + dt.timedelta(seconds=self.rng.randrange(60))

    def at_share(self, d: Demand, share: float) -> dt.datetime:
        """The moment ``share`` of the current time limit has been used."""
        allowed = workcal.working_time_between(d.clock_started_at, d.deadline)
        hours = allowed.total_seconds() / 3600 * share
        return workcal.add_working_hours(d.clock_started_at, hours) + dt.timedelta(
            seconds=self.rng.randrange(60)
        )

    def sweep_time(self, deadline: dt.datetime) -> dt.datetime:
        """When the sweep (every minute) finds a deadline passed."""
        return deadline + dt.timedelta(seconds=self.rng.randint(5, 60))

    def tracking_code(self) -> str:
        while True:
            code = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(10))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def phone(self) -> str:
        while True:
            p = self.rng.choice(names.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def person_name(self) -> str:
        surname = self.pick(names.SURNAMES)
        era = self.rng.choice(("old", "mid", "young"))
        return surname + self.rng.choice(names.GIVEN_NAMES[(era, self.rng.choice("MF"))])

    # --- escalation targets, as actions._next_tier_target and _level_above ----------
    def tier_target(self, story: Story, tier: int, day: dt.date):
        c = story.c
        if tier == Tier.TIME_LIMITED:
            return present(c.secretary_chain, day), None, c.area.name
        if tier == Tier.COORDINATED:
            unit = story.d.category.default_unit or c.unit
            return present(self.s.street_chain, day), unit, self.s.street.name
        return (
            present(self.s.district_chain, day) or self.district_office,
            None,
            self.s.district.name,
        )

    def level_above(self, tier: int, day: dt.date) -> User | None:
        if tier == Tier.TIME_LIMITED:
            return present(self.s.street_chain, day)
        return present(self.s.district_chain, day)

    # --- when and where --------------------------------------------------------------
    def intake(self, lo: dt.datetime, hi: dt.datetime) -> tuple[str, dt.datetime]:
        """A channel and a plausible moment of intake through it between ``lo`` and ``hi``
        (a station day is the 10th, a hotline call falls in office hours…)."""
        for _ in range(5):
            channel = self.pick(CHANNELS)
            t = self.moment(channel, lo, hi)
            if t is not None:
                return channel, t
        return Channel.WEB, lo + (hi - lo) * self.rng.random()

    def moment(self, channel: str, lo: dt.datetime, hi: dt.datetime) -> dt.datetime | None:
        """A plausible time of intake through ``channel`` between ``lo`` and ``hi``."""
        tz = timezone.get_current_timezone()
        for _ in range(60):
            span = (hi - lo).total_seconds()
            day = timezone.localtime(lo + dt.timedelta(seconds=self.rng.random() * span)).date()
            if self.rng.random() > MONTH_WEIGHT[day.month] / 1.2:
                continue
            if channel == Channel.STATION_DAY:
                day = day.replace(day=10)
                minutes = self.rng.randint(14 * 60, 17 * 60 + 20)
            elif channel in (Channel.HOTLINE, Channel.HALL, Channel.VISIT, Channel.SUGGESTION_BOX):
                if not workcal.is_workday(day):
                    continue
                minutes = self.rng.choice(
                    (
                        self.rng.randint(8 * 60 + 30, 11 * 60 + 50),
                        self.rng.randint(14 * 60, 17 * 60 + 20),
                    )
                )
            else:  # on a phone, any waking hour, evenings most
                minutes = round(self.rng.triangular(7 * 60, 23 * 60, 20 * 60))
            t = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=tz)
            t += dt.timedelta(seconds=self.rng.randrange(60))
            if lo <= t <= hi:
                return t
        return None

    def new_demand(
        self,
        t0: dt.datetime,
        *,
        community: Community | None = None,
        code: str | None = None,
        template: texts.Template | None = None,
        channel: str | None = None,
        place: Area | None = None,
    ) -> Story:
        rng = self.rng
        c = community or self.rng.choices(self.s.communities, self.community_weights)[0]
        if code is None:
            code, _w, is_place, tpls = self.pick([(x, x[1]) for x in self.category_pool])
        else:
            is_place, tpls = texts.TEMPLATES[code][1], texts.TEMPLATES[code][2]
        template = template or rng.choice(tpls)
        category = self.s.categories[code]
        channel = channel or self.pick(CHANNELS)
        household = rng.choice(c.households) if c.households else None
        building = (
            self.s.areas_by_path.get(household.path[: 6 * Area.steplen]) if household else None
        )
        if place is None:
            if is_place and building is not None and rng.random() < 0.7:
                place = building
            elif is_place:
                place = (self._estate_of(household) if household else None) or c.area
            else:
                place = household or c.area
        estate = self._estate_of(place) or (rng.choice(c.estates) if c.estates else None)
        building_name = (
            place.name
            if place.level == Level.BUILDING
            else building.name
            if building is not None
            else ""
        )
        estate_name = estate.name if estate else c.area.name
        fill = {
            "place": estate_name + building_name if place.level >= Level.BUILDING else estate_name,
            "estate": estate_name,
            "unit": f"{rng.randint(1, 3)}单元",
            "road": rng.choice(texts.ROADS),
        }
        # The reporter: mostly from the register, living where it happened.
        reporter, name, phone, anonymous = None, "", "", False
        anonymous_share = 0.55 if channel == Channel.SUGGESTION_BOX else 0.08
        residents = self._residents_near(place, household)
        if rng.random() < anonymous_share:
            anonymous = True
        elif residents and rng.random() < 0.87:
            reporter, name, phone = rng.choice(residents)
        else:
            name, phone = self.person_name(), self.phone()
        entered_by = self._entered_by(channel, c, place, t0)
        address = fill["place"] if is_place else ""
        d = Demand(
            tracking_code=self.tracking_code(),
            area=place,
            community=c.area,
            address=address[:200],
            category=category,
            title=template.title.format(**fill)[:100],
            description=template.description.format(**fill),
            extra=dict(template.extra),
            channel=channel,
            reporter_id=reporter,
            reporter_name="" if anonymous else name,
            reporter_phone="" if anonymous else phone,
            is_anonymous=anonymous,
            entered_by=entered_by,
            created_at=t0,
        )
        clock.start(d, t0, category.time_limit, category.time_unit)
        d.first_deadline = d.deadline  # 原定时限: what 按期 is judged by
        story = Story(self, d, c)
        story.template, story.fill = template, fill
        return story

    def _estate_of(self, area: Area) -> Area | None:
        if area.level < Level.ESTATE:
            return None
        return self.s.areas_by_path.get(area.path[: 4 * Area.steplen])

    def _residents_near(self, place: Area, household: Area | None) -> list[tuple[int, str, str]]:
        if place.level == Level.HOUSEHOLD:
            return self.s.residents_by_household.get(place.pk, [])
        if household is not None and household.path.startswith(place.path):
            return self.s.residents_by_household.get(household.pk, [])
        return []

    def _entered_by(self, channel: str, c: Community, place: Area, t0: dt.datetime):
        if channel == Channel.STATION_DAY:
            return c.station_cadre
        if channel == Channel.VISIT:
            grid = self.s.areas_by_path.get(place.path[: 5 * Area.steplen])
            chain = self.s.chains.get(grid.pk, []) if grid is not None else []
            return present(chain, t0.date()) or self.rng.choice(c.workers)
        if channel in (
            Channel.HOTLINE,
            Channel.HALL,
            Channel.WECHAT,
            Channel.QQ,
            Channel.SUGGESTION_BOX,
        ):
            return self.rng.choice(c.workers)
        return None

    def first_handler(self, story: Story, day: dt.date) -> tuple[str, Any]:
        """Who the community sends it to (the category's default handler)."""
        d, c, rng = story.d, story.c, self.rng
        rule = d.category.handling_rule
        if c.party_members and (rule == "pool" or rng.random() < 0.12):
            return "pool", rng.choice(c.party_members)
        if rule == "department" and c.units and rng.random() < 0.25:
            return "unit", rng.choice(c.units)
        if rule == "grid" or (rule == "department" and rng.random() < 0.5):
            grid = self.s.areas_by_path.get(d.area.path[: 5 * Area.steplen])
            if grid is not None and grid.level == Level.ZONE:
                user = present(self.s.chains.get(grid.pk, []), day)
                if user is not None:
                    return "user", user
        return "user", rng.choice(c.workers)

    # --- the plans of one tier -------------------------------------------------------
    def tier1_steps(
        self,
        story: Story,
        *,
        resolve: float | None,
        on_the_spot: bool = False,
        returned: bool = False,
    ) -> list[Step]:
        d, c, rng = story.d, story.c, self.rng
        t0 = d.created_at
        dispatcher = story.dispatcher_now(t0) or rng.choice(c.workers)
        if on_the_spot:
            cadre = c.station_cadre
            t1 = t0 + dt.timedelta(minutes=rng.randint(2, 10))
            t2 = t1 + dt.timedelta(minutes=rng.randint(1, 5))
            t3 = t2 + dt.timedelta(minutes=rng.randint(15, 80))
            answer = texts.ON_THE_SPOT + story.template.answer.format(**story.fill)
            return [
                (t1, lambda t: story.dispatch(t, cadre, to=cadre)),
                (t2, lambda t: story.claim(t, cadre)),
                (t3, lambda t: story.resolve(t, cadre, answer)),
            ]
        kind, target = self.first_handler(story, timezone.localdate(t0))
        a1 = rng.uniform(0.01, 0.08)
        a2 = a1 + rng.uniform(0.005, 0.08)
        a3 = a2 + rng.uniform(0.01, 0.1)
        steps: list[Step] = []
        if kind == "pool":
            steps.append((self.at_share(d, a1), lambda t: story.dispatch(t, dispatcher, pool=True)))
            steps.append((self.at_share(d, a2), lambda t: story.claim(t, target)))
            handler = target
        elif kind == "unit":
            steps.append(
                (self.at_share(d, a1), lambda t: story.dispatch(t, dispatcher, unit=target))
            )
            handler = dispatcher  # the community records what the unit did
        else:
            steps.append((self.at_share(d, a1), lambda t: story.dispatch(t, dispatcher, to=target)))
            steps.append((self.at_share(d, a2), lambda t: story.claim(t, target)))
            handler = target
            if returned:
                reason = rng.choice(texts.RETURN_REASONS)
                other = rng.choice(c.workers)
                a2b = a2 + rng.uniform(0.01, 0.05)
                a2c = a2b + rng.uniform(0.01, 0.05)
                a2d = a2c + rng.uniform(0.005, 0.05)
                steps.append((self.at_share(d, a2b), lambda t: story.return_(t, target, reason)))
                steps.append(
                    (self.at_share(d, a2c), lambda t: story.dispatch(t, dispatcher, to=other))
                )
                steps.append((self.at_share(d, a2d), lambda t: story.claim(t, other)))
                handler, a3 = other, a2d + rng.uniform(0.01, 0.08)
        if kind != "unit" and rng.random() < 0.7:
            steps.append((self.at_share(d, a3), lambda t, h=handler: story.start(t, h)))
        top = resolve if resolve is not None else rng.uniform(0.6, 0.97)
        if rng.random() < 0.45 and top > a3 + 0.04:
            note = rng.choice(texts.NOTES[1])
            steps.append(
                (
                    self.at_share(d, rng.uniform(a3 + 0.01, top - 0.02)),
                    lambda t, h=handler, x=note: story.note(t, h, x),
                )
            )
        if rng.random() < 0.15 and top > a3 + 0.04:
            reply = rng.choice(texts.PROGRESS_ANSWERS)
            steps.append(
                (
                    self.at_share(d, rng.uniform(a3 + 0.01, top - 0.01)),
                    lambda t, h=handler, x=reply: story.note(t, h, x, public=True),
                )
            )
        if resolve is not None:
            answer = story.template.answer.format(**story.fill)
            steps.append(
                (
                    self.at_share(d, max(resolve, a3 + 0.02)),
                    lambda t, h=handler: story.resolve(t, h, answer),
                )
            )
        return sorted(steps, key=lambda s: s[0])

    def upper_steps(self, story: Story, tier: int, *, resolve: float | None) -> list[Step]:
        """T2/T3: the new handler accepts, works on it, maybe resolves it."""
        d, rng = story.d, self.rng
        handler = d.handler
        steps: list[Step] = []
        if handler is not None and d.state == State.DISPATCHED:
            steps.append(
                (self.at_share(d, rng.uniform(0.01, 0.08)), lambda t: story.claim(t, handler))
            )
            steps.append(
                (self.at_share(d, rng.uniform(0.1, 0.15)), lambda t: story.start(t, handler))
            )
        text = rng.choice(texts.NOTES[tier]).format(unit=d.handler_unit or "共建单位")
        steps.append(
            (self.at_share(d, rng.uniform(0.16, 0.5)), lambda t: story.note(t, handler, text))
        )
        if resolve is not None:
            answer = story.template.answer.format(**story.fill)
            steps.append(
                (self.at_share(d, max(resolve, 0.55)), lambda t: story.resolve(t, handler, answer))
            )
        return steps

    def t4_steps(self, story: Story, outcome: str) -> list[Step]:
        """The meeting on the 25th decides; then done, postponed, or still in hand."""
        d, c, rng = story.d, story.c, self.rng
        meeting = story.meeting
        tz = timezone.get_current_timezone()
        office = d.handler or self.district_office
        steps: list[Step] = [
            (
                self.after(d.clock_started_at, rng.uniform(1, 6)),
                lambda t: story.note(
                    t, office, f"已列入{meeting.year}年{meeting.month}月{meeting.day}日调度会议题。"
                ),
            ),
        ]
        decided = dt.datetime.combine(meeting, dt.time(14, 30), tzinfo=tz) + dt.timedelta(
            minutes=rng.randint(0, 170)
        )
        lead, assignee = self.lead_for(story)
        minutes = texts.MINUTES.format(lead=lead, community=c.area.name)
        if outcome == "postponed4":
            due = dt.datetime.combine(
                meeting + dt.timedelta(days=rng.randint(430, 520)), dt.time(17, 30), tzinfo=tz
            )
            decision = texts.POSTPONE_DECISION.format(community=c.area.name)
        else:
            days = rng.choice((10, 15, 20))
            due = clock.deadline_after(decided, days, "days")
            if outcome == "open4_decided" and due <= self.now:
                due = clock.deadline_after(self.now, rng.randint(3, 10), "days")
            decision = texts.DECISION.format(lead=lead, community=c.area.name, days=days)
        steps.append(
            (
                decided,
                lambda t: story.decide(
                    t, office, decision=decision, assignee=assignee, due=due, minutes=minutes
                ),
            )
        )
        if outcome == "postponed4":
            steps.append(
                (
                    decided + dt.timedelta(minutes=rng.randint(5, 30)),
                    lambda t: story.postpone(t, office, texts.POSTPONE_REASON),
                )
            )
        claim = self.after(decided, rng.uniform(2, 14))
        steps.append((claim, lambda t: story.claim(t, assignee)))
        steps.append((self.after(claim, rng.uniform(1, 8)), lambda t: story.start(t, assignee)))
        if outcome == "done4":
            late = rng.random() < 0.2
            if late:  # the meeting's limit passed before it was done: 未按期
                resolved = self.after(due, rng.uniform(3, 40))
            else:
                span = workcal.working_time_between(claim, due).total_seconds() / 3600
                resolved = self.after(claim, span * rng.uniform(0.4, 0.95))
            answer = story.template.answer.format(**story.fill)
            steps.append((resolved, lambda t: story.resolve(t, assignee, answer)))
        elif outcome != "postponed4":
            text = rng.choice(texts.NOTES[3])
            steps.append(
                (self.after(claim, rng.uniform(8, 30)), lambda t: story.note(t, assignee, text))
            )
        return steps

    def lead_for(self, story: Story) -> tuple[str, User]:
        """The unit that leads the work the meeting decides, and its cadre."""
        keyword = texts.LEAD_UNIT.get(story.d.category.code)
        for user, unit in self.s.cadres:
            if keyword and keyword in unit:
                return unit, user
        street = present(self.s.street_chain, story.d.created_at.date())
        return "龙井街道", street or story.c.secretary_chain[0].user

    # --- playing a story to its end or to today --------------------------------------
    def play(self, story: Story, tiers: list[Callable[[], list[Step]]]) -> None:
        """Run each tier's steps in time order. Before a step, the sweep gets there first
        if the deadline has passed (below T4); a story stops at today."""
        d = story.d
        try:
            story.submit()
            for i, steps_of in enumerate(tiers):
                for when, do in steps_of():
                    if d.tier < Tier.DISPATCH_MEETING and d.deadline <= when:
                        break
                    if when > self.now:
                        raise Cut
                    do(when)
                    if not story.open:
                        return
                if d.tier >= Tier.DISPATCH_MEETING or d.state not in CLOCK_STATES:
                    return
                if i == len(tiers) - 1 and d.deadline > self.now:
                    return
                story.escalate(self.sweep_time(d.deadline))
                while i == len(tiers) - 1 and d.tier < Tier.DISPATCH_MEETING:
                    # Nobody does anything more: the sweep keeps moving it up.
                    story.escalate(self.sweep_time(d.deadline))
        except Cut:
            pass

    def after_resolution(self, story: Story, *, allow_rework: bool) -> None:
        """Ratings by the reporter, return visits, and the odd rework."""
        d, c, rng = story.d, story.c, self.rng
        try:
            while d.state == State.RESOLVED:
                resolved = d.resolved_at
                if rng.random() < 0.35 and not d.resident_rating:
                    sat = self.pick(RATING)
                    comment = rng.choice(texts.VISIT_COMMENTS[sat])
                    story.rate(self.after(resolved, rng.uniform(0.5, 20)), sat, comment)
                if rng.random() > 0.95:
                    return  # not visited (yet)
                when = self.after(resolved, rng.uniform(7, 35))
                sat = self.pick(SATISFACTION)
                if sat == Satisfaction.DISSATISFIED and (
                    not allow_rework
                    or d.rework_count
                    or d.handler is None
                    or when > self.now - dt.timedelta(days=20)
                ):
                    sat = Satisfaction.BASICALLY
                visitor = rng.choice(c.workers)
                story.visit(when, visitor, sat, rng.choice(texts.VISIT_COMMENTS[sat]))
                if d.state != State.CLOSED:  # rework
                    handler = d.handler
                    story.start(self.after(when, rng.uniform(1, 6)), handler)
                    answer = "返工处理：" + story.template.answer.format(**story.fill)
                    story.resolve(self.at_share(d, rng.uniform(0.3, 0.8)), handler, answer)
        except Cut:
            pass
