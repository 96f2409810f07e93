"""Residents' demands and the closed loop around them (群众点单 → 社区派单 → 党员接单 →
办结 → 回访): categories, the demand with its append-only event history, attachments,
the T4 dispatch meeting and the staff inbox."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from tongxin.areas.models import Area, Level
from tongxin.core.choices import ChoiceLabels


class TimeUnit(models.TextChoices):
    WORKING_HOURS = "hours", _("工作小时")
    WORKING_DAYS = "days", _("工作日")


class HandlingRule(models.TextChoices):
    """Who a new demand of a category goes to by default."""

    GRID = "grid", _("所在网格责任人")
    COMMUNITY = "community", _("社区")
    UNIT = "unit", _("共建单位")
    DEPARTMENT = "department", _("职能部门")
    POOL = "pool", _("党员认领")


class Department(models.Model):
    """A government department that takes demands outside a community's reach (职能部门)."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    area = models.ForeignKey(
        Area,
        models.PROTECT,
        related_name="departments",
        verbose_name=_("所属区域"),
        null=True,
        blank=True,
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="departments",
        blank=True,
        verbose_name=_("经办人"),
    )

    class Meta:
        verbose_name = _("职能部门")
        verbose_name_plural = _("职能部门")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """A kind of demand (诉求类别) with its default time limit and handler."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    time_limit = models.PositiveSmallIntegerField(_("办理时限"), default=5)
    time_unit = models.CharField(
        _("时限单位"), max_length=10, choices=TimeUnit.choices, default=TimeUnit.WORKING_DAYS
    )
    handling_rule = models.CharField(
        _("默认承办"), max_length=20, choices=HandlingRule.choices, default=HandlingRule.GRID
    )
    default_unit = models.ForeignKey(
        "people.CoBuildingUnit",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("默认共建单位"),
    )
    default_department = models.ForeignKey(
        Department, models.SET_NULL, null=True, blank=True, verbose_name=_("默认职能部门")
    )
    # Extra questions for this category: [{"code", "label", "type": text|number|date|choice,
    # "required": bool, "choices": [..]}]. Open311 publishes them as service attributes.
    extra_fields = models.JSONField(_("附加字段"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("诉求类别")
        verbose_name_plural = _("诉求类别")
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    WEB = "web", _("网页/扫码")
    HOTLINE = "hotline", _("热线电话")
    HALL = "hall", _("服务大厅")
    STATION_DAY = "station_day", _("驻点日")
    VISIT = "visit", _("走访")
    WECHAT = "wechat", _("微信群")
    QQ = "qq", _("QQ群")
    SUGGESTION_BOX = "box", _("意见箱")
    WISH_WALL = "wish_wall", _("心愿墙")
    OPEN311 = "open311", _("Open311")


class State(models.TextChoices):
    SUBMITTED = "submitted", _("待受理")
    DISPATCHED = "dispatched", _("已派单")
    ACCEPTED = "accepted", _("已接单")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已办结")
    CLOSED = "closed", _("已回访")
    RETURNED = "returned", _("已退回")
    MERGED = "merged", _("已合并")
    WITHDRAWN = "withdrawn", _("已撤回")


OPEN_STATES = (
    State.SUBMITTED,
    State.DISPATCHED,
    State.ACCEPTED,
    State.IN_PROGRESS,
    State.RETURNED,
)
# States in which the clock runs against a handler (the deadline can pass).
CLOCK_STATES = OPEN_STATES
DONE_STATES = (State.RESOLVED, State.CLOSED)


class Tier(models.IntegerChoices):
    """The four tiers of resolution (一线为民工作法, source 004)."""

    ON_SITE = 1, _("T1 现场办结")
    TIME_LIMITED = 2, _("T2 街道社区限时办结")
    COORDINATED = 3, _("T3 共建单位协调办结")
    DISPATCH_MEETING = 4, _("T4 区一线办统筹办结")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


def new_tracking_code() -> str:
    """Ten characters, 50 bits: not guessable, easy to read out. (Each of ten random
    bytes picks one of the 32 characters: 256 is a multiple of 32, so each is as likely
    as any other.)"""
    return "".join([_CODE_ALPHABET[b & 31] for b in secrets.token_bytes(10)])


def located_in(area: Area) -> Q:
    """The demands located in ``area``. A demand's community is the community its area
    lies in (actions.community_of), so for a community or anything above one the test is
    on Demand.community: no join to the area table, and the database can walk a
    demand index in the order asked instead of sorting the whole area. Below a
    community (an estate, a grid) the area's path decides."""
    if area.level == Level.COMMUNITY:
        return Q(community_id=area.pk)
    if area.level < Level.COMMUNITY:
        # The level is written into the SQL (core.lookups.Constant), so that PostgreSQL
        # keeps one plan for the ledger's and a demand page's prepared statements.
        communities = Area.objects.filter(
            path__startswith=area.path, level__constant=Level.COMMUNITY
        )
        return Q(community_id__in=communities.values("pk"))
    return Q(area__path__startswith=area.path)


class DemandQuerySet(models.QuerySet):
    def open(self) -> DemandQuerySet:
        # The open states are written into the SQL (core.lookups.ConstantIn): open work
        # is a few per cent of the rows, which the generic plan of a prepared statement
        # cannot know of states sent as parameters. With them as parameters PostgreSQL
        # took a community's overdue demands (17) for 4,000 and, from about the tenth
        # time a worker filtered the ledger by 红灯, walked the whole ledger's index for
        # them: 19 ms → 330–360 ms at a million demands.
        return self.filter(state__constant_in=OPEN_STATES)

    def within(self, area: Area | None) -> DemandQuerySet:
        if area is None:
            return self
        return self.filter(located_in(area))

    def overdue(self, now: dt.datetime) -> DemandQuerySet:
        """Red (超期): open and past the deadline."""
        return self.open().filter(deadline__lte=now)

    def warning(self, now: dt.datetime) -> DemandQuerySet:
        """Yellow (预警): open, most of the time used, not yet overdue."""
        return self.open().filter(warn_at__lte=now, deadline__gt=now)

    def claimable_by(self, user) -> DemandQuerySet:
        """Open orders in the party-member pool of the user's community (党员接单)."""
        if user.area_id is None:
            return self.none()
        return self.filter(
            state=State.DISPATCHED,
            handler__isnull=True,
            pool=True,
            area__path__startswith=user.area.path,
        )

    def handled_by(self, user) -> DemandQuerySet:
        return self.filter(handler=user)


class Demand(ChoiceLabels, models.Model):
    """A resident's request or problem (诉求, 群众点单), from intake to a rated result."""

    tracking_code = models.CharField(
        _("查询码"), max_length=12, unique=True, default=new_tracking_code, editable=False
    )
    # One form submission makes one demand: a double click or a refresh re-sends the
    # same token, and the second insert finds the first.
    submission_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Where the problem is: the most precise node known (a household, building, grid,
    # or just the community), and the community itself for scoping and the board.
    area = models.ForeignKey(Area, models.PROTECT, related_name="demands", verbose_name=_("位置"))
    community = models.ForeignKey(
        Area,
        models.PROTECT,
        related_name="community_demands",
        verbose_name=_("社区"),
        limit_choices_to={"level": Level.COMMUNITY},
        db_index=False,  # (community, created_at) and the others below begin with it
    )
    address = models.CharField(_("地点描述"), max_length=200, blank=True)
    category = models.ForeignKey(Category, models.PROTECT, verbose_name=_("类别"))
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("详细描述"))
    extra = models.JSONField(_("附加信息"), default=dict, blank=True)
    channel = models.CharField(_("渠道"), max_length=20, choices=Channel.choices)

    # Who reported it. A resident from the register, or a name and phone typed in, or
    # nobody (anonymous). The phone is personal data: masked everywhere but the handling.
    reporter = models.ForeignKey(
        "people.Resident",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="demands",
        verbose_name=_("反映人"),
        db_index=False,  # see Meta.indexes: where it is set
    )
    reporter_name = models.CharField(_("反映人姓名"), max_length=50, blank=True)
    reporter_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="entered_demands",
        verbose_name=_("代录人员"),
        db_index=False,  # see Meta.indexes: where it is set
    )

    # Indexed with the deadline (Meta.indexes), which serves every search by state.
    state = models.CharField(
        _("状态"), max_length=20, choices=State.choices, default=State.SUBMITTED
    )
    tier = models.PositiveSmallIntegerField(
        _("办理层级"), choices=Tier.choices, default=Tier.ON_SITE
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="handled_demands",
        verbose_name=_("承办人"),
        db_index=False,  # see Meta.indexes: where it is set
    )
    handler_unit = models.ForeignKey(
        "people.CoBuildingUnit",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="demands",
        verbose_name=_("承办共建单位"),
        db_index=False,  # see Meta.indexes: where it is set
    )
    department = models.ForeignKey(
        Department,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="demands",
        verbose_name=_("承办部门"),
        db_index=False,  # see Meta.indexes: where it is set
    )
    pool = models.BooleanField(_("党员认领池"), default=False)
    merged_into = models.ForeignKey(
        "self",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_demands",
        verbose_name=_("合并至"),
        db_index=False,  # see Meta.indexes: where it is set
    )

    # Indexed by "demand_keyset" (created_at, id), which serves every range on it too.
    created_at = models.DateTimeField(_("反映时间"), default=timezone.now)
    # The clock: when the current time limit started, when yellow begins, the deadline.
    clock_started_at = models.DateTimeField(_("计时开始"), null=True, blank=True)
    warn_at = models.DateTimeField(_("预警时间"), null=True, blank=True)
    # Indexed with what it is read with (Meta.indexes): the state (the sweep), the
    # community (the work list, the rollup). Not on its own: an index of every
    # deadline sent both planners walking it from the oldest, through every closed
    # demand, for "open and overdue, oldest first" (the sweep, the 超期 tab).
    deadline = models.DateTimeField(_("办理时限"), null=True, blank=True)
    # The limit the demand was first given. Escalation and rework move ``deadline``;
    # 按期办结 is judged against this one.
    first_deadline = models.DateTimeField(_("原定时限"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("首次响应"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    resolved_on_time = models.BooleanField(_("按期办结"), null=True, blank=True)
    closed_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    postponed = models.BooleanField(_("缓办"), default=False)
    public_answer = models.TextField(_("答复"), blank=True)
    satisfaction = models.CharField(
        _("回访满意度"), max_length=20, choices=Satisfaction.choices, blank=True
    )
    resident_rating = models.CharField(
        _("居民评价"), max_length=20, choices=Satisfaction.choices, blank=True
    )
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)

    objects = DemandQuerySet.as_manager()

    class Meta:
        verbose_name = _("诉求")
        verbose_name_plural = _("诉求")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "deadline"]),
            models.Index(fields=["community", "created_at"]),
            models.Index(fields=["-created_at", "-id"], name="demand_keyset"),
            # The live part of the rollup (today, and days being recounted) reads each
            # community's demands by the day they fell due, were resolved or answered.
            # The moments a new demand does not have yet are indexed only where set: an
            # intake writes no entry for them (every query of them names a range, or
            # IS NOT NULL, which both planners match with the condition).
            models.Index(
                fields=["community", "resolved_at"],
                condition=Q(resolved_at__isnull=False),
                name="demand_resolved",
            ),
            models.Index(fields=["community", "deadline"]),
            models.Index(
                fields=["community", "first_response_at"],
                condition=Q(first_response_at__isnull=False),
                name="demand_first_response",
            ),
            # The board's "recently resolved" (latest first, a street at a time).
            models.Index(
                fields=["-resolved_at", "-id"],
                condition=Q(resolved_at__isnull=False),
                name="demand_resolved_desc",
            ),
            # The open work — a few per cent of the rows — counted on every dashboard and
            # work list: red (deadline passed), yellow (warn_at passed), to dispatch. The
            # state comes second so that each open state is one short range of the index
            # (SQLite cannot use a partial index when the states are bound parameters).
            # The warning time last: yellow (deadline not yet passed, warn_at passed) is
            # counted in the index alone, where both databases read the rows of every
            # open demand not yet due (a district's 45,000) to look at their warn_at.
            models.Index(
                fields=["community", "state", "deadline", "warn_at"], name="demand_work_lights"
            ),
            models.Index(fields=["community", "state", "warn_at"], name="demand_work_warn"),
            # The links a new demand does not have yet (its handler) or often has not
            # (a resident of the register, staff who entered it), and the rare ones (a
            # co-building unit or a department as handler, a merge), indexed only where
            # they are set: a search for one value is served the same, and the rows
            # without one cost no index entry.
            # A handler's with the state and the community: their open demands (我承办的,
            # the load the dispatch form shows beside each name, those they handle
            # outside their area) are counted in the index alone, not from every demand
            # they ever had (a busy one has thousands, nearly all done) nor from the rows.
            models.Index(
                fields=["handler", "state", "community"],
                condition=Q(handler__isnull=False),
                name="demand_handler_open",
            ),
            # A handler's newest first: the part of a staff member's ledger that they
            # handle (Scope.page_parts), read 31 at a time in the ledger's order.
            models.Index(
                fields=["handler", "-created_at", "-id"],
                condition=Q(handler__isnull=False),
                name="demand_handler_recent",
            ),
            models.Index(
                fields=["reporter"], condition=Q(reporter__isnull=False), name="demand_reporter"
            ),
            models.Index(
                fields=["entered_by"],
                condition=Q(entered_by__isnull=False),
                name="demand_entered_by",
            ),
            models.Index(
                fields=["handler_unit"],
                condition=Q(handler_unit__isnull=False),
                name="demand_handler_unit",
            ),
            models.Index(
                fields=["department"],
                condition=Q(department__isnull=False),
                name="demand_department",
            ),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="demand_merged_into",
            ),
            # The demands at the top tier (T4, the district's dispatch meeting), which the
            # agenda is filled from each time it opens: without it, every open demand of
            # the district is read to find them. Read with ``tier__constant`` so that the
            # planners can match the condition.
            models.Index(
                fields=["state"],
                condition=Q(tier=Tier.DISPATCH_MEETING),
                name="demand_meeting_tier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    # The columns whose days the daily rollup (tongxin.demands.rollup) counts by.
    ROLLUP_ATTNAMES = ("community_id", "created_at", "resolved_at", "deadline", "first_response_at")

    @classmethod
    def from_db(cls, db, field_names, values):
        """Remember the rollup columns as loaded, so that a change can mark both the days
        a demand leaves and the days it joins (rollup.touch)."""
        instance = super().from_db(db, field_names, values)
        cls.remember_loaded(instance, field_names, values)
        return instance

    @classmethod
    def remember_loaded(cls, instance, field_names, values) -> None:
        """What :meth:`from_db` adds to Django's (core.prepared makes instances without
        ``from_db`` and calls this)."""
        loaded = dict(zip(field_names, values, strict=False))
        instance._rollup_loaded = {a: loaded[a] for a in cls.ROLLUP_ATTNAMES if a in loaded}

    @property
    def number(self) -> str:
        """The ledger number (编号): year of intake and the row id."""
        if not self.pk:
            return ""
        return f"{timezone.localtime(self.created_at):%Y}-{self.pk:06d}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now: dt.datetime) -> bool:
        return self.is_open and self.deadline is not None and self.deadline <= now

    def is_warning(self, now: dt.datetime) -> bool:
        return (
            self.is_open
            and self.warn_at is not None
            and self.warn_at <= now
            and not self.is_overdue(now)
        )

    def light(self, now: dt.datetime) -> str:
        """ "red", "yellow" or "" for the traffic light shown beside the demand."""
        if self.is_overdue(now):
            return "red"
        if self.is_warning(now):
            return "yellow"
        return ""

    @property
    def reporter_display(self) -> str:
        """The reporter as lists show them: never the whole name of an anonymous one."""
        if self.is_anonymous:
            return str(_("匿名"))
        name = self.reporter.name if self.reporter_id else self.reporter_name
        return mask_name(name)

    @property
    def reporter_phone_masked(self) -> str:
        from tongxin.people.idnumbers import mask_phone

        if self.is_anonymous:
            return ""
        phone = self.reporter_phone or (self.reporter.phone if self.reporter_id else "")
        return mask_phone(phone)


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the family name stays, for a polite address."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


class EventKind(models.TextChoices):
    SUBMITTED = "submitted", _("提交")
    DISPATCHED = "dispatched", _("派单")
    CLAIMED = "claimed", _("接单")
    STARTED = "started", _("开始办理")
    NOTE = "note", _("办理记录")
    ANSWER = "answer", _("答复")
    RETURNED = "returned", _("退回")
    TRANSFERRED = "transferred", _("转办")
    MERGED = "merged", _("合并")
    WITHDRAWN = "withdrawn", _("撤回")
    ESCALATED = "escalated", _("升级")
    RESOLVED = "resolved", _("办结")
    VISITED = "visited", _("回访")
    RATED = "rated", _("居民评价")
    REOPENED = "reopened", _("重新办理")
    POSTPONED = "postponed", _("缓办")
    RESUMED = "resumed", _("恢复办理")
    MEETING = "meeting", _("调度会决定")


# The events counted by kind and time (the return visits, the residents' ratings and the
# reopenings: metrics, rollup), about one in seven. Only they are in the index on the
# events' time, their kind its condition; a query reads it with
# ``kind__constant_in=COUNTED_KINDS`` (tongxin/core/lookups.py), this same tuple in this
# order, so that SQLite and a generic PostgreSQL plan can see the index covers it.
COUNTED_KINDS = (EventKind.VISITED, EventKind.RATED, EventKind.REOPENED)


class DemandEvent(ChoiceLabels, models.Model):
    """One step in a demand's history (办理记录). Append-only: the ledger is these rows."""

    demand = models.ForeignKey(Demand, models.CASCADE, related_name="events")
    # Read by demand (its history) or by kind and time (the return visits and ratings
    # counted, COUNTED_KINDS): Meta.indexes; the others never by time.
    at = models.DateTimeField(_("时间"), default=timezone.now)
    kind = models.CharField(_("事项"), max_length=20, choices=EventKind.choices)
    # Indexed only where set (Meta.indexes): a resident's report, a sweep's escalation
    # and other steps nobody signed in made have none, and cost no index entry.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="demand_events",
        verbose_name=_("操作人"),
        db_index=False,
    )
    # Public events and their text are shown to the reporter on the tracking page.
    public = models.BooleanField(_("公开"), default=False)
    text = models.TextField(_("内容"), blank=True)
    state_after = models.CharField(max_length=20, choices=State.choices, blank=True)
    tier_after = models.PositiveSmallIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["at"], condition=Q(kind__in=COUNTED_KINDS), name="event_counted"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="event_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.demand_id} {self.get_kind_display()}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"demands/{timezone.now():%Y/%m}/{secrets.token_hex(8)}.jpg"


class Attachment(models.Model):
    """A photo with a demand or a handling step. Stored re-encoded, without EXIF."""

    demand = models.ForeignKey(Demand, models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        DemandEvent, models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    public = models.BooleanField(default=True)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name or f"{self.pk}"


class Notification(models.Model):
    """A message in a staff member's inbox (站内消息)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications")
    demand = models.ForeignKey(
        Demand, models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    text = models.CharField(_("内容"), max_length=300)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.text


class MeetingItemQuerySet(models.QuerySet):
    def undecided(self):
        return self.filter(Q(decision="") | Q(decision__isnull=True))


class DispatchMeeting(models.Model):
    """The district office's monthly dispatch meeting on the 25th (区一线办调度会)."""

    date = models.DateField(_("会议日期"), unique=True)
    held = models.BooleanField(_("已召开"), default=False)
    notes = models.TextField(_("会议纪要"), blank=True)

    class Meta:
        verbose_name = _("调度会")
        verbose_name_plural = _("调度会")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


class MeetingItem(models.Model):
    """One demand on a dispatch meeting's agenda, with the minutes and the decision."""

    meeting = models.ForeignKey(DispatchMeeting, models.CASCADE, related_name="items")
    demand = models.ForeignKey(Demand, models.CASCADE, related_name="meeting_items")
    minutes = models.TextField(_("讨论记录"), blank=True)
    decision = models.TextField(_("决定"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("责任人"),
    )
    due = models.DateTimeField(_("完成时限"), null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = MeetingItemQuerySet.as_manager()

    class Meta:
        verbose_name = _("调度事项")
        verbose_name_plural = _("调度事项")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "demand"], name="one_item_per_demand")
        ]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.demand_id}"


# --- the daily rollup (日汇总) ----------------------------------------------------------------
class DayCount(models.Model):
    """The counts of one community's demands of one category on one local day: the
    rollup behind the board and the dashboards (tongxin.demands.rollup). Each figure is
    counted on the day its own moment falls on, as tongxin.demands.metrics defines it:
    collected on the day of intake, due (and resolved, on time, postponed) on the day it
    fell due, visits, ratings and rework on the day of the event. The state, channel
    and tier columns split the demands collected that day by where they stand now."""

    community = models.ForeignKey(Area, models.CASCADE, related_name="+")
    day = models.DateField()
    category = models.ForeignKey(Category, models.CASCADE, related_name="+")
    collected = models.PositiveIntegerField(default=0)
    due = models.PositiveIntegerField(default=0)
    postponed = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    resolved_on_time = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)
    visits_satisfied = models.PositiveIntegerField(default=0)
    visits_basically = models.PositiveIntegerField(default=0)
    visits_dissatisfied = models.PositiveIntegerField(default=0)
    ratings = models.PositiveIntegerField(default=0)
    ratings_satisfied = models.PositiveIntegerField(default=0)
    ratings_basically = models.PositiveIntegerField(default=0)
    ratings_dissatisfied = models.PositiveIntegerField(default=0)
    rework = models.PositiveIntegerField(default=0)
    # Durations (metrics.durations), as sums so that a mean over any days is exact.
    responses = models.PositiveIntegerField(default=0)
    response_us = models.BigIntegerField(default=0)  # microseconds, summed
    resolutions = models.PositiveIntegerField(default=0)
    resolution_us = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("日汇总")
        verbose_name_plural = _("日汇总")
        constraints = [
            models.UniqueConstraint(fields=["community", "day", "category"], name="daycount_key")
        ]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day} {self.category_id}"


# One column per state, channel and tier, kept in step with the choices (a new choice
# is a new column: makemigrations --check in CI notices).
DAYCOUNT_MIX = (
    *(f"state_{s.value}" for s in State),
    *(f"channel_{c.value}" for c in Channel),
    *(f"tier_{t.value}" for t in Tier),
)
for _column in DAYCOUNT_MIX:
    DayCount.add_to_class(_column, models.PositiveIntegerField(default=0))
del _column


class RollupState(models.Model):
    """One row: the days up to ``rolled_through`` are in DayCount (but for the ones
    marked in DirtyDay); later days are counted live."""

    rolled_through = models.DateField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    # Goes up whenever rows are written: cached sums of older versions are not used.
    version = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("汇总进度")
        verbose_name_plural = _("汇总进度")

    def __str__(self) -> str:
        return f"{self.rolled_through}"


class DirtyDay(models.Model):
    """A rolled day of a community whose demands changed since it was counted: read live
    until the background refresh counts it again."""

    community = models.ForeignKey(Area, models.CASCADE, related_name="+")
    day = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "day"], name="dirtyday_key")]

    def __str__(self) -> str:
        return f"{self.community_id} {self.day}"


# --- background exports of the ledger (台账导出) -------------------------------------------------
class ExportJobQuerySet(models.QuerySet):
    def of(self, user) -> ExportJobQuerySet:
        """A user's own jobs. Nobody else's, an administrator's included: the file is
        what one user's scope showed them, and is theirs alone to download."""
        return self.filter(created_by=user)

    def under_way(self, now: dt.datetime) -> ExportJobQuerySet:
        """Queued or being written, and not stale (:meth:`ExportJob.is_stale`)."""
        return self.filter(
            Q(status=ExportJob.Status.PENDING, created_at__gte=now - ExportJob.QUEUE_TIMEOUT)
            | Q(status=ExportJob.Status.RUNNING, updated_at__gte=now - ExportJob.STALE_AFTER)
        )

    def stale(self, now: dt.datetime) -> ExportJobQuerySet:
        return self.filter(
            Q(status=ExportJob.Status.PENDING, created_at__lt=now - ExportJob.QUEUE_TIMEOUT)
            | Q(status=ExportJob.Status.RUNNING, updated_at__lt=now - ExportJob.STALE_AFTER)
        )

    def expired(self, now: dt.datetime) -> ExportJobQuerySet:
        """Done, and past the time its file is kept."""
        return self.filter(status=ExportJob.Status.DONE, expires_at__lte=now)


class ExportJob(models.Model):
    """One export of the ledger too large to wait for (台账导出任务): the task queue's worker
    writes the filtered ledger to a file under TONGXIN_EXPORT_DIR (tongxin.demands.exports),
    which its creator alone may download until it expires.

    The filter is kept as the ledger's query string and applied when the job runs, within
    the creator's scope as it is then, exactly as the ledger page would."""

    class Status(models.TextChoices):
        PENDING = "pending", _("排队中")
        RUNNING = "running", _("导出中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        EXPIRED = "expired", _("已过期")

    # Queued this long and not started: no worker is running. Running with no progress
    # this long: the worker died (killed, the machine restarted). Progress comes about
    # every second; the longest silence, the file's final compression, took 2 s at
    # 100,000 rows.
    QUEUE_TIMEOUT = dt.timedelta(hours=1)
    STALE_AFTER = dt.timedelta(minutes=15)
    FINISHED_STATUSES = (Status.DONE, Status.FAILED, Status.EXPIRED)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("导出人"),
    )
    created_at = models.DateTimeField(_("导出时间"), auto_now_add=True, db_index=True)
    # The ledger's filter as its query string (forms_ledger.filter_query), and in words.
    query = models.CharField(_("筛选参数"), max_length=1000, blank=True)
    description = models.CharField(_("筛选条件"), max_length=500, blank=True)
    # The creator's language: the sheet's headers and the messages are in it.
    language = models.CharField(max_length=10, default="zh-hans")
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已写入行数"), default=0)
    # The file's name in TONGXIN_EXPORT_DIR once it is complete; "" before and after.
    file_name = models.CharField(_("文件名"), max_length=100, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    # The last sign of life from the worker: set when it starts and at every progress.
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("文件过期时间"), null=True, blank=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("台账导出任务")
        verbose_name_plural = _("台账导出任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return str(_("问题台账导出 #%(n)s") % {"n": self.pk})

    def get_absolute_url(self) -> str:
        return reverse("demands:export_job", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    def is_stale(self, now: dt.datetime) -> bool:
        if self.status == self.Status.PENDING:
            return self.created_at < now - self.QUEUE_TIMEOUT
        if self.status == self.Status.RUNNING:
            return self.updated_at < now - self.STALE_AFTER
        return False

    def fail_if_stale(self, now: dt.datetime) -> bool:
        """Mark the job failed if its worker has gone (:meth:`is_stale`), so that nobody
        watches a bar that will never move; True if it was. Conditional, so a worker
        still alive after all finds the job taken from it and drops its file."""
        if not self.is_stale(now):
            return False
        with translation.override(self.language):
            if self.status == self.Status.PENDING:
                message = _(
                    "排队超过一小时仍未开始，后台任务可能没有运行。请联系管理员，然后重新导出。"
                )
            else:
                message = _("导出中断，请重新导出。")
            message = str(message)
        marked = ExportJob.objects.filter(
            pk=self.pk, status=self.status, updated_at=self.updated_at
        ).update(status=self.Status.FAILED, message=message, finished_at=now)
        if marked:
            self.status, self.message, self.finished_at = self.Status.FAILED, message, now
        return bool(marked)

    def is_downloadable(self, now: dt.datetime) -> bool:
        return (
            self.status == self.Status.DONE
            and bool(self.file_name)
            and self.expires_at is not None
            and now < self.expires_at
        )

    @property
    def path(self) -> Path | None:
        """Where the file is, once written."""
        if not self.file_name:
            return None
        return Path(settings.TONGXIN_EXPORT_DIR) / self.file_name

    @property
    def download_name(self) -> str:
        """问题台账-20260302-0915.xlsx, from when the rows were read (local time)."""
        moment = timezone.localtime(self.started_at or self.created_at)
        return f"问题台账-{moment:%Y%m%d-%H%M}.xlsx"
