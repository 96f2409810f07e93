"""Small pieces of HTML drawn in Python rather than in a template, for the lists that
repeat them many times a page.

Django's template engine costs a few microseconds a node: a ledger row of fourteen
cells, its badges and its lists was about 0.2 ms, so the 30 rows were a third of the
ledger page's time. Here a row is one ``str.format`` of the row's markup, every text
escaped once on its way in, the same markup as the template drew (bench/README.md,
"reads"); the classes, dates and numbers this module writes itself go in as they are.
The badges beside a demand are drawn by the same function on every page
(``{% work_badges %}``, templatetags/demand_badges.py), so they look the same
everywhere.
"""

from __future__ import annotations

import html as _stdlib_html
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache, cached_property

from django.utils.html import escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from tongxin.demands.models import State

DASH = "—"


def _escape(value) -> str:
    """What ``format_html`` does to each value (``conditional_escape``): a safe string
    as it is, anything else escaped by the same function Django's ``escape`` uses. Without
    the check for lazy strings that Django makes on every call (``keep_lazy``), which was
    a third of drawing a row: the values here are plain or safe strings and numbers."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return _stdlib_html.escape(str(value))


# The ledger row's texts, plain strings (the database's, and Words' labels made str).
_text = _stdlib_html.escape


_STATE_BADGE = {
    State.RESOLVED: "text-bg-success",
    State.CLOSED: "text-bg-success",
    State.SUBMITTED: "text-bg-primary",
    State.RETURNED: "text-bg-primary",
    State.MERGED: "text-bg-secondary",
    State.WITHDRAWN: "text-bg-secondary",
}


def _tier_badge(tier: int) -> str:
    if tier >= 4:
        return "text-bg-danger"
    if tier == 3:
        return "text-bg-warning"
    if tier == 2:
        return "text-bg-info"
    return "text-bg-light border"


def work_badges(
    *, state: str, state_label: str, tier: int, tier_label: str, light: str, postponed: bool
) -> SafeString:
    """The small signs beside a demand: its state, the traffic light, its tier, 缓办. The
    labels escaped, the classes and the tier's number (an int) written as they are."""
    state_class = _STATE_BADGE.get(state, "text-bg-info")
    parts = [f'<span class="badge rounded-pill {state_class}">{_escape(state_label)}</span>']
    if light == "red":
        parts.append(
            '<span class="badge text-bg-danger"><i class="bi bi-alarm"></i> '
            f"{_escape(_('已超期'))}</span>"
        )
    elif light == "yellow":
        parts.append(
            '<span class="badge text-bg-warning"><i class="bi bi-hourglass-split"></i> '
            f"{_escape(_('预警'))}</span>"
        )
    parts.append(
        f'<span class="badge {_tier_badge(tier)}" title="{_escape(tier_label)}">T{int(tier)}</span>'
    )
    if postponed:
        parts.append(f'<span class="badge text-bg-secondary">{_escape(_("缓办"))}</span>')
    return SafeString("\n".join(parts))  # every label escaped


# A ledger row. First formatted once a page with the column labels (each cell repeats
# its own as data-label, for the stacked layout on phones), which leaves the single
# braces for ledger_row to fill, escaped, per row.
_ROW = (
    '<tr class="{{light}}">'
    '<td data-label="{number}" class="text-nowrap"><a href="{{url}}">{{number}}</a></td>\n'
    '<td data-label="{reporter}" class="d-none d-sm-table-cell text-nowrap">{{reporter}}</td>\n'
    '<td data-label="{contact}" class="d-none d-sm-table-cell tx-masked text-nowrap">'
    "{{contact}}</td>\n"
    '<td data-label="{time}" class="text-nowrap">{{created}}</td>\n'
    '<td data-label="{channel}" class="d-none d-sm-table-cell text-nowrap">{{channel}}</td>\n'
    '<td data-label="{category}" class="text-nowrap">{{category}}</td>\n'
    '<td data-label="{text}"><a href="{{url}}" class="fw-semibold">{{title}}</a>'
    '<div class="text-secondary">{{summary}}</div></td>\n'
    '<td data-label="{place}">{{place}}</td>\n'
    '<td data-label="{handler}" class="text-nowrap">{{handler}}</td>\n'
    '<td data-label="{deadline}" class="text-nowrap">{{deadline}}</td>\n'
    '<td data-label="{handling}">{{handling}}</td>\n'
    '<td data-label="{resolved}" class="d-none d-sm-table-cell text-nowrap">{{resolved}}</td>\n'
    '<td data-label="{note}" class="d-none d-sm-table-cell">{{note}}</td>\n'
    '<td data-label="{satisfaction}">{{satisfaction}}</td></tr>'
)


@dataclass(frozen=True)
class Columns:
    """The ledger's column labels, translated once a page: the header shows them and
    every cell repeats its own."""

    number: str
    reporter: str
    contact: str
    time: str
    channel: str
    category: str
    text: str
    place: str
    handler: str
    deadline: str
    handling: str
    resolved: str
    note: str
    satisfaction: str

    @classmethod
    def current(cls) -> Columns:
        """The labels in the active language (kept per language: they are the same on
        every page, and so is :attr:`row_format`)."""
        return cls._of(get_language())

    @classmethod
    @cache
    def _of(cls, language: str | None) -> Columns:
        return cls(
            number=_("编号"),
            reporter=_("反映人"),
            contact=_("联系电话"),
            time=_("时间"),
            channel=_("渠道"),
            category=_("类别"),
            text=_("描述"),
            place=_("网格/位置"),
            handler=_("责任人"),
            deadline=_("办理时限"),
            handling=_("办理情况"),
            resolved=_("办结时间"),
            note=_("反馈"),
            satisfaction=_("满意度"),
        )

    @cached_property
    def row_format(self) -> str:
        """:data:`_ROW` with these labels in it, escaped."""
        return _ROW.format_map(
            {
                f.name: escape(getattr(self, f.name)).replace("{", "{{").replace("}", "}}")
                for f in fields(self)
            }
        )


def _names(names: Iterable[str]) -> str:
    return "".join(f'<span class="text-nowrap">{_text(n)}</span> ' for n in names)


def _day(moment: tuple[str, str] | None) -> str:
    """A (date, time) of :func:`ledger.rows`: digits, dashes and colons from
    ``strftime``, written as they are."""
    if not moment:
        return DASH
    return f'{moment[0]} <span class="text-secondary d-sm-block">{moment[1]}</span>'


_LIGHT_ROW = {"red": "table-danger", "yellow": "table-warning"}


def _or_dash(text: str) -> str:
    return _text(text) if text else DASH


def ledger_row(row, c: Columns) -> SafeString:
    """One ledger row (a ``ledger.Row``) as the table's ``<tr>``: each text escaped once,
    into the row's one ``format`` (a third of the page's drawing was ``format_html``
    escaping the same cells again, nested)."""
    d = row.demand
    place = row.place
    grid = _names(place.grid_names) if place.grid_names else DASH
    if place.position:
        grid = f'{grid}<div class="text-secondary">{_names(place.position)}</div>'
    handling = work_badges(
        state=d.state,
        state_label=row.state,
        tier=d.tier,
        tier_label=row.tier,
        light=row.light,
        postponed=d.postponed,
    )
    if d.rework_count:
        rework = ngettext("返工 %(n)s 次", "返工 %(n)s 次", d.rework_count) % {"n": d.rework_count}
        handling = f'{handling} <span class="badge text-bg-warning">{_escape(rework)}</span>'
    return SafeString(  # every text escaped above or here
        c.row_format.format(
            light=_LIGHT_ROW.get(row.light, ""),
            url=_text(row.url),
            number=_text(row.number),
            reporter=_or_dash(row.reporter),
            contact=_or_dash(row.contact),
            created=_day(row.created),
            channel=_text(row.channel),
            category=_text(d.category.name),
            title=_text(row.title),
            summary=_text(row.summary),
            place=grid,
            handler=_or_dash(row.handler),
            deadline=_day(row.deadline),
            handling=handling,
            resolved=_day(row.resolved),
            note=_or_dash(row.note),
            satisfaction=_names(row.satisfaction) if row.satisfaction else DASH,
        )
    )
