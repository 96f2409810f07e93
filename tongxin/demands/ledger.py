"""The problem ledger (问题台账, source 004): which demands a filter selects, one page of
them by keyset, the place and handling columns, and the Excel export. No HTTP here: the
views parse the request and authorise, then call these.

Personal data stays masked in every column: the reporter's name and phone, and any phone
or ID number a resident typed into the description or a handler into the answer.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from typing import IO

from django.core import signing
from django.db import connections, router
from django.db.models import Model, Q, QuerySet, TextChoices
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from tongxin.accounts.models import User
from tongxin.areas.models import Area, Level
from tongxin.core.prepared import Prepared
from tongxin.demands import metrics
from tongxin.demands.metrics import Period
from tongxin.demands.models import (
    DONE_STATES,
    Category,
    Channel,
    Demand,
    Satisfaction,
    State,
    Tier,
)
from tongxin.people.idnumbers import mask_id_number, mask_phone

PAGE_SIZE = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Light(TextChoices):
    """The traffic light beside a deadline (Demand.light)."""

    YELLOW = "yellow", gettext_lazy("黄灯（预警）")
    RED = "red", gettext_lazy("红灯（超期）")


class Outcome(TextChoices):
    """How a due demand (应结案) stands now: the parts of the resolution rates. 结案,
    缓办 and 未结案 split the due demands; 按期结案 is part of 结案 (docs/metrics.md)."""

    RESOLVED = "resolved", gettext_lazy("结案")
    ON_TIME = "on_time", gettext_lazy("按期结案")
    POSTPONED = "postponed", gettext_lazy("缓办")
    UNRESOLVED = "unresolved", gettext_lazy("未结案")


def outcome_q(outcome: str, now: dt.datetime) -> Q:
    """The due demands with this outcome as of ``now``, with the conditions of
    metrics.figures, so that the rows and the counts agree. Only meaningful together
    with metrics.due_in, which the ledger always applies with it."""
    resolved = Q(postponed=False) & metrics.resolved_by(now)
    if outcome == Outcome.RESOLVED:
        return resolved
    if outcome == Outcome.ON_TIME:
        return resolved & Q(resolved_on_time=True)
    if outcome == Outcome.POSTPONED:
        return Q(postponed=True)
    if outcome == Outcome.UNRESOLVED:
        # The complement of resolved_by written out: a negated comparison with a NULL
        # resolved_at is neither true nor false in SQL.
        not_resolved = (
            ~Q(state__in=DONE_STATES) | Q(resolved_at__isnull=True) | Q(resolved_at__gte=now)
        )
        return Q(postponed=False) & not_resolved
    raise ValueError(f"unknown outcome {outcome!r}")


# --- filtering -------------------------------------------------------------------------
_NUMBER = re.compile(r"^(\d{4})-0*(\d{1,12})$")  # the ledger number, 2026-000123
_TRACKING_CODE = re.compile(r"^[A-Za-z0-9]{10}$")


@dataclass(frozen=True)
class LedgerFilter:
    """What the ledger shows, each part optional. The views build it from a form whose
    choices are already limited to the user's scope."""

    area: Area | None = None
    category: Category | None = None
    state: str = ""
    tier: int | None = None
    light: str = ""
    channel: str = ""
    handler: User | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    due_from: dt.date | None = None
    due_to: dt.date | None = None
    outcome: str = ""
    q: str = ""

    @property
    def period(self) -> Period:
        """The intake dates as a period of time (both days included)."""
        return Period.days(self.date_from, self.date_to)

    @property
    def due_period(self) -> Period:
        """The days on which the demands fell due (应结案), both included."""
        return Period.days(self.due_from, self.due_to)

    def apply(self, demands: QuerySet, now: dt.datetime, *, paged: bool = False) -> QuerySet:
        """The demands the filter selects. ``paged``: for rows read a page at a time
        in the ledger's order (the list), rather than counted or read whole."""
        if self.area is not None and self.area.level == Level.COMMUNITY:
            # The same rows as within(area) (a demand's community holds its area),
            # without the join to the area table.
            demands = demands.filter(community_id=self.area.pk)
        elif self.area is not None:
            demands = demands.within(self.area)
        if self.category is not None:
            demands = demands.filter(category=self.category)
        if self.state == State.CLOSED and paged:
            # Where every demand ends: most rows of a ledger that has run for a while,
            # so a page of them is found at once along the ledger's order (SQLite is
            # told so by core.lookups.Common). Counted, they are still read by the
            # index of community and state.
            demands = demands.filter(state__common=self.state)
        elif self.state:
            demands = demands.filter(state=self.state)
        if self.tier is not None:
            demands = demands.filter(tier=self.tier)
        if self.light == Light.RED:
            demands = demands.overdue(now)
        elif self.light == Light.YELLOW:
            demands = demands.warning(now)
        if self.channel:
            demands = demands.filter(channel=self.channel)
        if self.handler is not None:
            demands = demands.filter(handler=self.handler)
        demands = demands.filter(self.period.q("created_at"))
        if self.due_from or self.due_to or self.outcome:
            # The rows behind the rates: due in the period (any time up to now when only
            # an outcome is asked), as they stand now, exactly as metrics counts them.
            demands = demands.filter(metrics.due_in(self.due_period, now))
        if self.outcome:
            demands = demands.filter(outcome_q(self.outcome, now))
        if self.q:
            demands = demands.filter(search(self.q))
        return demands

    def key(self) -> str:
        """The filter as a canonical string: equal filters give equal keys, however the
        query string spelt them (the figures' cache)."""
        values = {}
        for name, value in vars(self).items():
            if isinstance(value, Model):
                value = value.pk
            elif isinstance(value, dt.date):
                value = value.isoformat()
            values[name] = value
        return json.dumps(values, sort_keys=True, ensure_ascii=False)

    def parts(self) -> list[tuple[str, str]]:
        """The conditions set, as (name, value) in words: the page's chips and the audit."""
        parts = [
            (_("区域"), self.area and self.area.name),
            (_("类别"), self.category and self.category.name),
            (_("状态"), self.state and State(self.state).label),
            (_("层级"), self.tier and Tier(self.tier).label),
            (_("时限"), self.light and Light(self.light).label),
            (_("渠道"), self.channel and Channel(self.channel).label),
            (_("责任人"), self.handler and str(self.handler)),
            (_("起始日期"), self.date_from and self.date_from.isoformat()),
            (_("截止日期"), self.date_to and self.date_to.isoformat()),
            (_("应结案起始日期"), self.due_from and self.due_from.isoformat()),
            (_("应结案截止日期"), self.due_to and self.due_to.isoformat()),
            (_("结案情况"), self.outcome and Outcome(self.outcome).label),
            (_("关键词"), self.q),
        ]
        return [(name, str(value)) for name, value in parts if value]

    def describe(self) -> str:
        """The filter in words, for the audit trail: 类别=环境卫生；状态=办理中."""
        return "；".join(f"{name}={value}" for name, value in self.parts()) or _("全部")


def search(text: str) -> Q:
    """A title fragment, a ledger number (2026-000123, or just 123) or a tracking code."""
    text = text.strip()
    q = Q(title__icontains=text)
    if (m := _NUMBER.match(text)) and 1 <= int(m[1]) <= 9998:
        year = int(m[1])
        q |= Q(pk=int(m[2])) & Period.days(dt.date(year, 1, 1), dt.date(year, 12, 31)).q(
            "created_at"
        )
    elif text.isascii() and text.isdigit() and len(text) <= 12:
        q |= Q(pk=int(text))
    if _TRACKING_CODE.match(text):
        q |= Q(tracking_code=text.upper())
    return q


# --- keyset pagination ------------------------------------------------------------------
_CURSOR_SALT = "tongxin.demands.ledger.cursor"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """A position in the ledger's order (-created_at, -id): the row it is taken from,
    and whether the page wanted lies after that row (older) or before it (newer).

    It travels signed, so a cursor typed by hand is refused rather than trusted; even a
    good one only moves within the rows the caller's scope already allows."""

    created_at: dt.datetime
    pk: int
    backwards: bool = False

    @classmethod
    def of(cls, demand: Demand, backwards: bool = False) -> Cursor:
        return cls(demand.created_at, demand.pk, backwards)

    def encode(self) -> str:
        micros = (self.created_at - _EPOCH) // _MICROSECOND
        return signing.dumps([int(self.backwards), micros, self.pk], salt=_CURSOR_SALT)

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor, or None for anything not made by :meth:`encode`."""
        if not token or len(token) > 200:
            return None
        try:
            backwards, micros, pk = signing.loads(token, salt=_CURSOR_SALT)
            moment = _EPOCH + micros * _MICROSECOND
        except (signing.BadSignature, ValueError, TypeError, OverflowError):
            return None
        if backwards not in (0, 1) or type(pk) is not int or not 0 < pk < 2**63:
            return None
        return cls(moment, pk, bool(backwards))

    def after(self) -> Q:
        """Rows older than this one. The redundant first term lets the index on
        (created_at, id) start at the cursor instead of filtering from the top."""
        return Q(created_at__lte=self.created_at) & (
            Q(created_at__lt=self.created_at) | Q(pk__lt=self.pk)
        )

    def before(self) -> Q:
        return Q(created_at__gte=self.created_at) & (
            Q(created_at__gt=self.created_at) | Q(pk__gt=self.pk)
        )


@dataclass
class Page:
    rows: list[Demand]
    next: str = ""  # the cursor of the page after, "" when this is the last
    previous: str = ""  # the cursor of the page before, "" when this is the first
    is_first: bool = True


def page_of(
    demands: QuerySet | Callable[[], QuerySet] | tuple,
    cursor: Cursor | None,
    size: int = PAGE_SIZE,
    *,
    key: Hashable | None = None,
) -> Page:
    """One page in the order (-created_at, -id), by keyset: the database seeks to the
    cursor through the index "demand_keyset" however deep the page, where an OFFSET
    would read and throw away every row before it.

    With a ``key`` — what the demands are: equal keys, equal querysets — ``demands`` is
    a function giving them, and each kind of page's SQL is built once per key and then
    only run with the cursor's values (core.prepared): building it took longer than
    the database took to answer.

    ``demands`` may be a tuple of parts whose union the demands are (Scope.page_parts,
    each a queryset or, with a key, a function giving it): each part's page is read
    down its own index and the pages are merged, a row in two parts shown once."""
    parts = demands if isinstance(demands, tuple) else (demands,)
    if cursor is not None and cursor.backwards:
        newer = _merged(_newer, parts, cursor, size, key)
        more = len(newer) > size
        rows = newer[:size][::-1]
        return Page(
            rows,
            next=Cursor.of(rows[-1]).encode() if rows else "",
            previous=Cursor.of(rows[0], backwards=True).encode() if more else "",
            is_first=not more,
        )
    rows = _merged(_older, parts, cursor, size, key)
    more = len(rows) > size
    rows = rows[:size]
    return Page(
        rows,
        next=Cursor.of(rows[-1]).encode() if more else "",
        previous=Cursor.of(rows[0], backwards=True).encode() if cursor and rows else "",
        is_first=cursor is None,
    )


def _merged(query, parts: tuple, cursor: Cursor | None, size: int, key) -> list:
    """The first ``size + 1`` rows of the parts' union in ``query``'s order: on SQLite
    each part's page read apart and merged; PostgreSQL reads their OR as well (a
    bitmap of each part's index, the top rows sorted), and a second query cost it more
    than it saved."""
    if len(parts) > 1 and connections[router.db_for_read(Demand)].vendor != "sqlite":
        parts = (_either(parts),)
    if len(parts) == 1:
        return _fetch(query, parts[0], cursor, size, key)
    found: dict[int, Demand] = {}
    for i, part in enumerate(parts):
        for demand in _fetch(query, part, cursor, size, None if key is None else (key, i)):
            found.setdefault(demand.pk, demand)
    merged = sorted(found.values(), key=lambda d: (d.created_at, d.pk), reverse=query is _older)
    return merged[: size + 1]


def _either(parts: tuple) -> QuerySet | Callable[[], QuerySet]:
    """The parts' OR, as one queryset (or a function giving it, for functions)."""
    if callable(parts[0]):
        return lambda: functools.reduce(operator.or_, (part() for part in parts))
    return functools.reduce(operator.or_, parts)


def _older(demands: QuerySet, cursor: Cursor | None, size: int) -> QuerySet:
    older = demands.order_by("-created_at", "-pk")
    if cursor is not None:
        older = older.filter(cursor.after())
    return older[: size + 1]


def _newer(demands: QuerySet, cursor: Cursor, size: int) -> QuerySet:
    return demands.filter(cursor.before()).order_by("created_at", "pk")[: size + 1]


_PAGES = Prepared(size=512)


def _fetch(query, demands, cursor: Cursor | None, size: int, key: Hashable | None) -> list:
    if key is None:
        return list(query(demands, cursor, size))
    if cursor is None:
        return _PAGES.list((key, query.__name__, size), lambda: query(demands(), None, size))
    return _PAGES.list(
        (key, query.__name__, size, cursor.backwards),
        lambda at, pk: query(demands(), Cursor(at, pk, cursor.backwards), size),
        cursor.created_at,
        cursor.pk,
    )


# --- the columns -------------------------------------------------------------------------
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")


def mask_text(text: str) -> str:
    """Free text with every ID number and phone number in it masked."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m[0]), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m[0]), text)


def contact(demand: Demand) -> str:
    """The reporter's phone, masked: the one given with the demand, else the register's."""
    if demand.is_anonymous:
        return ""
    phone = demand.reporter_phone or (demand.reporter.phone if demand.reporter_id else "")
    return mask_phone(phone)


@dataclass(frozen=True)
class Words:
    """The labels and phrases of the columns, translated once per list or export:
    Django's get_FOO_display hashes every lazy choice label on each call, which was
    most of the time of a large export."""

    state: dict[str, str]
    channel: dict[str, str]
    satisfaction: dict[str, str]
    tier: dict[int, str]
    pool: str
    overdue: str
    warning: str
    postponed: str
    rework: str  # with %(n)d
    rating: str  # with %(r)s

    @classmethod
    def current(cls) -> Words:
        """The words in the active language (kept per language: they never change while
        the server runs, and translating them was a tenth of a ledger page)."""
        return cls._of(get_language())

    @classmethod
    @cache
    def _of(cls, language: str | None) -> Words:
        def labels(choices) -> dict[str, str]:
            return {value: str(label) for value, label in choices}

        return cls(
            state=labels(State.choices),
            channel=labels(Channel.choices),
            satisfaction=labels(Satisfaction.choices),
            tier=labels(Tier.choices),
            pool=_("党员认领池"),
            overdue=_("已超期"),
            warning=_("临近时限"),
            postponed=_("缓办"),
            rework=_("返工%(n)d次"),
            rating=_("居民评价：%(r)s"),
        )


def handler_name(demand: Demand, words: Words) -> str:
    if demand.handler_id:
        return str(demand.handler)
    if demand.handler_unit_id:
        return str(demand.handler_unit)
    if demand.department_id:
        return str(demand.department)
    return words.pool if demand.pool else ""


def handling(demand: Demand, now: dt.datetime, words: Words) -> str:
    """办理情况: the state, the tier, and what stands out (late, postponed, reworked)."""
    parts = [words.state.get(demand.state, demand.state), f"T{demand.tier}"]
    light = demand.light(now)
    if light == Light.RED:
        parts.append(words.overdue)
    elif light == Light.YELLOW:
        parts.append(words.warning)
    if demand.postponed:
        parts.append(words.postponed)
    if demand.rework_count:
        parts.append(words.rework % {"n": demand.rework_count})
    return " · ".join(parts)


def satisfaction_parts(demand: Demand, words: Words) -> list[str]:
    """The return visit's verdict, and the resident's own rating when there is one."""
    parts = []
    if demand.satisfaction:
        parts.append(words.satisfaction.get(demand.satisfaction, demand.satisfaction))
    if demand.resident_rating:
        rating = words.satisfaction.get(demand.resident_rating, demand.resident_rating)
        parts.append(words.rating % {"r": rating})
    return parts


@dataclass(frozen=True)
class Place:
    """Where a demand is, as the ledger's 网格/位置 column shows it."""

    community: str = ""
    grid: tuple[str, ...] = ()  # the estates and zones (小区、片区/网格) under the community
    position: tuple[str, ...] = ()  # the building and household, if the demand is that precise

    @property
    def grid_names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.community, *self.grid) if n)

    @property
    def grid_label(self) -> str:
        return " ".join(self.grid_names)


# Paths asked for in one query (SQLite allows 32,766 parameters; an export asks for
# thousands at a time).
_PLACES_AT_ONCE = 500


def _area_names(paths: list[str]) -> list[tuple[str, str, int]]:
    """(path, name, level) of the areas at ``paths``, in one written-out query: built by
    the ORM, its list of fifty paths took longer to build (0.3 ms) than to run on every
    ledger page."""
    connection = connections[router.db_for_read(Area)]
    q = connection.ops.quote_name
    sql = (
        f"SELECT {q('path')}, {q('name')}, {q('level')} FROM {q(Area._meta.db_table)}"
        f" WHERE {q('path')} IN ({', '.join(['%s'] * len(paths))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, paths)
        return cursor.fetchall()


@dataclass
class Places:
    """Names of the nodes above a batch of demands, fetched in one query per batch and
    remembered across batches (the export reads many)."""

    known: dict[str, tuple[str, int]] = field(default_factory=dict)

    def of(self, demands: list[Demand]) -> dict[int, Place]:
        wanted = set()
        for d in demands:
            path, step = d.area.path, Area.steplen
            wanted.update(path[:i] for i in range(step, len(path) + 1, step))
        missing = sorted(wanted - self.known.keys())
        for start in range(0, len(missing), _PLACES_AT_ONCE):
            for path, name, level in _area_names(missing[start : start + _PLACES_AT_ONCE]):
                self.known[path] = (name, level)
        return {d.pk: self._place(d) for d in demands}

    def _place(self, demand: Demand) -> Place:
        path, step = demand.area.path, Area.steplen
        nodes = [self.known.get(path[:i]) for i in range(step, len(path) + 1, step)]
        nodes = [n for n in nodes if n is not None]

        def names(low: int, high: int) -> tuple[str, ...]:
            return tuple(name for name, level in nodes if low <= level <= high)

        return Place(
            community=" ".join(names(Level.COMMUNITY, Level.COMMUNITY)),
            grid=names(Level.ESTATE, Level.ZONE),
            position=names(Level.BUILDING, Level.HOUSEHOLD),
        )


@dataclass(frozen=True)
class Row:
    """One demand as a ledger row: the masked and derived columns, ready to show.

    Everything the page prints is worked out here, once per row, so that the template
    only places strings: the labels from :class:`Words` (Django's get_FOO_display
    hashes every choice label on each call), the local dates, the shortened texts. The
    30 rows were most of the page's time when the template did this per cell."""

    demand: Demand
    place: Place
    light: str
    reporter: str
    contact: str
    title: str
    description: str
    handler: str
    answer: str
    satisfaction: list[str]
    url: str = ""  # the demand's page
    number: str = ""
    channel: str = ""
    state: str = ""  # the state's label
    tier: str = ""  # the tier's label
    created: tuple[str, str] = ("", "")  # (date, time), local
    deadline: tuple[str, str] | None = None
    resolved: tuple[str, str] | None = None
    summary: str = ""  # the description, shortened for the list
    note: str = ""  # the answer, shortened for the list


def shorten(text: str, length: int) -> str:
    """``Truncator(text).chars(length)``: asked only of the texts that are longer (most
    descriptions are short), since it translates its ellipsis on every call."""
    if len(text) <= length:
        return text
    return Truncator(text).chars(length)


def _day_and_time(moment: dt.datetime | None, tz: dt.tzinfo) -> tuple[str, str] | None:
    """(date, time) in the time zone ``tz`` (the current one, asked once per page)."""
    if moment is None:
        return None
    text = moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return text[:10], text[11:]


def rows(demands: Iterable[Demand], now: dt.datetime) -> list[Row]:
    """Rows for a page of demands fetched with :func:`for_page` (or :func:`for_rows`):
    one query for places, one for units and one for departments if the page has any."""
    demands = list(demands)
    _rare_handlers(demands)
    located = Places().of(demands)
    words = Words.current()
    # One reverse() for the page: the demands' URLs differ only by the id.
    url = reverse("demands:detail", args=[0])
    head, tail = url.rsplit("/0/", 1)
    tz = timezone.get_current_timezone()
    out = []
    for d in demands:
        created = _day_and_time(d.created_at, tz)
        description = mask_text(d.description)
        answer = mask_text(d.public_answer)
        out.append(
            Row(
                demand=d,
                place=located[d.pk],
                light=d.light(now),
                reporter=d.reporter_display,
                contact=contact(d),
                title=mask_text(d.title),
                description=description,
                handler=handler_name(d, words),
                answer=answer,
                satisfaction=satisfaction_parts(d, words),
                url=f"{head}/{d.pk}/{tail}",
                number=f"{created[0][:4]}-{d.pk:06d}",
                channel=words.channel.get(d.channel, d.channel),
                state=words.state.get(d.state, d.state),
                tier=words.tier.get(d.tier, str(d.tier)),
                created=created,
                deadline=_day_and_time(d.deadline, tz),
                resolved=_day_and_time(d.resolved_at, tz),
                summary=shorten(description, 40),
                note=shorten(answer, 30),
            )
        )
    return out


def for_rows(demands: QuerySet) -> QuerySet:
    """What every ledger row shows, joined in the same query."""
    return demands.select_related(
        "area", "category", "handler", "handler_unit", "department", "reporter"
    )


def for_page(demands: QuerySet) -> QuerySet:
    """The same for one page: the units and departments, rare handlers, come in a query
    of their own, and only when the page has any (:func:`rows`). PostgreSQL spends
    longer planning a seven-table join (3.7 ms at a million demands) than running it
    (0.4 ms); five tables take a third of that."""
    return demands.select_related("area", "category", "handler", "reporter").only(*_PAGE_COLUMNS)


def _rare_handlers(demands: list[Demand]) -> None:
    """Fill in the unit and the department of the demands handled by one, a query each
    and only when there are any: what ``prefetch_related`` would do, without the
    querysets it builds even for a page that has none (a twentieth of the page)."""
    for name in ("handler_unit", "department"):
        field = Demand._meta.get_field(name)
        todo = [d for d in demands if getattr(d, field.attname) and not field.is_cached(d)]
        if not todo:
            continue
        found = field.related_model.objects.in_bulk({getattr(d, field.attname) for d in todo})
        for d in todo:
            field.set_cached_value(d, found.get(getattr(d, field.attname)))


# What a page's rows show (rows(), html.ledger_row), and no more: a demand, its reporter
# and handler have some seventy columns together, and building the instances from all of
# them was a fifth of the page's time. Reading a column left out here would cost a query
# per row; test_read_cost counts them.
_PAGE_COLUMNS = (
    *("created_at", "title", "description", "public_answer", "channel", "state", "tier"),
    *("warn_at", "deadline", "resolved_at", "postponed", "rework_count", "pool"),
    *("satisfaction", "resident_rating", "is_anonymous", "reporter_name", "reporter_phone"),
    *("handler_unit", "department", "community"),
    *("area__path", "category__name", "handler__full_name", "handler__username"),
    *("reporter__name", "reporter__phone"),
)


# --- the export -----------------------------------------------------------------------------
# DOMAIN.md §3's ledger, in its order, with a width for each column (in characters).
COLUMNS = [
    (gettext_lazy("编号"), 13),
    (gettext_lazy("反映人"), 10),
    (gettext_lazy("联系电话"), 14),
    (gettext_lazy("反映时间"), 17),
    (gettext_lazy("渠道"), 11),
    (gettext_lazy("类别"), 11),
    (gettext_lazy("问题描述"), 48),
    (gettext_lazy("所属网格"), 24),
    (gettext_lazy("责任人"), 14),
    (gettext_lazy("办理时限"), 17),
    (gettext_lazy("办理情况"), 26),
    (gettext_lazy("办结时间"), 17),
    (gettext_lazy("反馈情况"), 40),
    (gettext_lazy("满意度"), 16),
]
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
EXPORT_CHUNK = 1000
PROGRESS_EVERY = 2000  # rows: about a second of writing
_CELL_LIMIT = 32_000


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    """Excel has no time zones: the wall-clock time in Asia/Shanghai, without tzinfo."""
    if moment is None:
        return None
    return timezone.localtime(moment).replace(tzinfo=None)


def export_row(demand: Demand, place: Place, now: dt.datetime, words: Words) -> list:
    """One ledger row as the spreadsheet has it: texts and local datetimes."""
    description = f"{demand.title}：{demand.description}" if demand.description else demand.title
    return [
        demand.number,
        demand.reporter_display,
        contact(demand),
        _local(demand.created_at),
        words.channel.get(demand.channel, demand.channel),
        demand.category.name,
        mask_text(description),
        place.grid_label,
        handler_name(demand, words),
        _local(demand.deadline),
        handling(demand, now, words),
        _local(demand.resolved_at),
        mask_text(demand.public_answer),
        "；".join(satisfaction_parts(demand, words)),
    ]


def export_rows(demands: QuerySet, now: dt.datetime) -> Iterator[list]:
    """Every row, in ledger order, read in chunks so memory stays flat."""
    rows = for_rows(demands).order_by("-created_at", "-pk").iterator(chunk_size=EXPORT_CHUNK)
    places, words = Places(), Words.current()
    while batch := list(islice(rows, EXPORT_CHUNK)):
        located = places.of(batch)
        for demand in batch:
            yield export_row(demand, located[demand.pk], now, words)


def _cell(sheet, value):
    if isinstance(value, str):
        # Control characters are not allowed in the file's XML; Excel keeps 32,767 at most.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:_CELL_LIMIT]
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, dt.datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, str):
        # openpyxl takes a text starting with "=" for a formula: a resident's words must
        # stay words when the sheet is opened.
        cell.data_type = "s"
    return cell


def write_xlsx(
    demands: QuerySet,
    out: IO[bytes],
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """The ledger of ``demands`` as an .xlsx written to ``out``; returns the row count.
    ``progress``, if given, is called with the rows written so far every
    :data:`PROGRESS_EVERY` rows (a background export shows them).

    openpyxl's write-only mode keeps one row in memory at a time (the sheet goes to a
    temporary file), so 100,000 demands need no more memory than ten."""
    now = now or timezone.now()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("问题台账"))
    sheet.freeze_panes = "A2"
    for i, (_header, width) in enumerate(COLUMNS):
        sheet.column_dimensions[get_column_letter(i + 1)].width = width
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    header = []
    for title, _width in COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(title))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in export_rows(demands, now):
        cells = [_cell(sheet, v) for v in row]
        cells[6].alignment = wrap
        sheet.append(cells)
        count += 1
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    workbook.save(out)
    return count
