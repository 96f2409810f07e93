"""The mapping between GeoReport v2 and Tongxin's demand loop (docs/open311.md).

service_code ↔ category, status ↔ our states, status_notes ↔ the latest public
answer, agency_responsible ↔ the handling unit, address ↔ the area path,
expected_datetime ↔ the deadline."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from tongxin.areas.models import Area, Level
from tongxin.demands.models import OPEN_STATES, Category, Demand, DemandEvent, EventKind
from tongxin.open311.render import Problem

# What the spec's two statuses mean here. Resolved, visited, merged into another
# demand and withdrawn are all "closed": nothing more will happen under this id.
STATUS_OPEN = "open"
STATUS_CLOSED = "closed"
MAX_SPAN = dt.timedelta(days=90)
MAX_RESULTS = 1000
DATATYPES = {"text": "string", "number": "number", "date": "datetime", "choice": "singlevaluelist"}
# Public events whose text answers the reporter (status_notes).
ANSWER_KINDS = (EventKind.ANSWER, EventKind.RESOLVED)


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return timezone.localtime(moment).isoformat(timespec="seconds")


# --- services --------------------------------------------------------------------------
def service(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.extra_fields),
        "type": "realtime",
        "keywords": category.description.replace("、", ","),
        # Our categories are one flat list; the spec's group is optional.
        "group": "",
    }


def attribute(spec: Mapping, order: int) -> dict:
    kind = spec.get("type", "text")
    out = {
        "variable": True,
        "code": spec["code"],
        "datatype": DATATYPES.get(kind, "string"),
        "required": bool(spec.get("required")),
        "datatype_description": _("日期，格式 YYYY-MM-DD") if kind == "date" else "",
        "order": order,
        "description": spec.get("label", spec["code"]),
    }
    if kind == "choice":
        out["values"] = [{"key": c, "name": c} for c in spec.get("choices", [])]
    return out


def service_definition(category: Category) -> dict:
    return {
        "service_code": category.code,
        "attributes": [attribute(s, i) for i, s in enumerate(category.extra_fields or [], 1)],
    }


def clean_attributes(category: Category, given: Mapping[str, str]) -> dict:
    """attribute[code] values checked against the category's extra fields, as they go
    into ``Demand.extra``. Raises Problem(400) naming the first thing wrong."""
    specs = {s["code"]: s for s in category.extra_fields or []}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise Problem(400, _("未知的属性：attribute[%(code)s]") % {"code": unknown[0]})
    extra: dict = {}
    for code, spec in specs.items():
        value = given.get(code, "").strip()
        if not value:
            if spec.get("required"):
                raise Problem(400, _("缺少必填属性：attribute[%(code)s]") % {"code": code})
            continue
        extra[code] = _clean_value(spec, value)
    return extra


def _clean_value(spec: Mapping, value: str):
    kind, code = spec.get("type", "text"), spec["code"]
    if kind == "choice":
        if value not in spec.get("choices", []):
            raise Problem(400, _("attribute[%(code)s] 的取值无效。") % {"code": code})
        return value
    if kind == "number":
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise Problem(400, _("attribute[%(code)s] 应为数字。") % {"code": code})
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        moment = parse_moment(value, f"attribute[{code}]")
        return timezone.localtime(moment).date().isoformat()
    if len(value) > 500:
        raise Problem(400, _("attribute[%(code)s] 过长。") % {"code": code})
    return value


# --- dates and filters -------------------------------------------------------------------
def parse_moment(value: str, name: str) -> dt.datetime:
    """An ISO 8601 date or date-time; one without an offset is taken as local time."""
    try:
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            moment = dt.datetime.combine(day, dt.time()) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise Problem(400, _("%(name)s 不是有效的 ISO 8601 时间。") % {"name": name})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def date_range(start: str, end: str, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The spec's window: both given, at most 90 days apart; one given, 90 days from
    it; none given, the last 90 days."""
    start_at = parse_moment(start, "start_date") if start else None
    end_at = parse_moment(end, "end_date") if end else None
    if start_at and end_at:
        if end_at < start_at:
            raise Problem(400, _("end_date 不能早于 start_date。"))
        if end_at - start_at > MAX_SPAN:
            raise Problem(400, _("start_date 与 end_date 的间隔不能超过 90 天。"))
        return start_at, end_at
    if start_at:
        return start_at, start_at + MAX_SPAN
    end_at = end_at or now
    return end_at - MAX_SPAN, end_at


def parse_statuses(value: str) -> set[str]:
    statuses = {s.strip() for s in value.split(",") if s.strip()}
    if statuses - {STATUS_OPEN, STATUS_CLOSED}:
        raise Problem(400, _("status 只能是 open 或 closed。"))
    return statuses


def parse_ids(value: str) -> list[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or len(parts) > MAX_RESULTS or not all(p.isdigit() and len(p) < 12 for p in parts):
        raise Problem(400, _("service_request_id 应为以逗号分隔的编号。"))
    return [int(p) for p in parts]


def filter_statuses(demands: QuerySet, statuses: set[str]) -> QuerySet:
    if statuses == {STATUS_OPEN}:
        return demands.filter(state__in=OPEN_STATES)
    if statuses == {STATUS_CLOSED}:
        return demands.exclude(state__in=OPEN_STATES)
    return demands


# --- service requests -------------------------------------------------------------------
def for_requests(demands: QuerySet) -> QuerySet:
    latest = DemandEvent.objects.filter(demand=OuterRef("pk")).order_by("-at", "-id")
    return demands.select_related(
        "category", "community", "area", "department", "handler_unit"
    ).annotate(updated_at=Subquery(latest.values("at")[:1]))


def status_of(demand: Demand) -> str:
    return STATUS_OPEN if demand.state in OPEN_STATES else STATUS_CLOSED


def agency(demand: Demand) -> str:
    """Who handles it, as an office: a department or co-building unit by name, else the
    community. A person who handles it is never named here."""
    if demand.department_id:
        return demand.department.name
    if demand.handler_unit_id:
        return demand.handler_unit.name
    return demand.community.name


def _public_place(area: Area) -> tuple[str, list[str]]:
    """The path prefixes from the street down, stopping above the household."""
    steplen = Area.steplen
    depth = area.depth - 1 if area.level == Level.HOUSEHOLD else area.depth
    return area.path[: depth * steplen], [area.path[: i * steplen] for i in range(1, depth + 1)]


def request_rows(demands: Iterable[Demand], *, full_text_for=lambda d: False) -> list[dict]:
    """The spec's service request records. Two queries whatever the number of rows: the
    places' names and the public answers. ``full_text_for(demand)`` says whether the
    caller may read the resident's own words (the description)."""
    demands = list(demands)
    places = {d.pk: _public_place(d.area) for d in demands}
    paths = {p for _leaf, prefixes in places.values() for p in prefixes}
    areas = {
        a.path: a for a in Area.objects.filter(path__in=paths).only("id", "name", "path", "level")
    }
    notes: dict[int, str] = {}
    answers = DemandEvent.objects.filter(
        demand__in=[d.pk for d in demands], public=True, kind__in=ANSWER_KINDS
    ).order_by("at", "id")
    for demand_id, text in answers.values_list("demand_id", "text"):
        notes[demand_id] = text
    rows = []
    for d in demands:
        leaf, prefixes = places[d.pk]
        names = [areas[p].name for p in prefixes if p in areas and areas[p].level >= Level.STREET]
        rows.append(
            {
                "service_request_id": str(d.pk),
                "status": status_of(d),
                "status_notes": notes.get(d.pk, d.public_answer),
                "service_name": d.category.name,
                "service_code": d.category.code,
                "description": d.description if full_text_for(d) else None,
                "agency_responsible": agency(d),
                "service_notice": _("编号 %(number)s") % {"number": d.number},
                "requested_datetime": iso(d.created_at),
                "updated_datetime": iso(getattr(d, "updated_at", None) or d.created_at),
                "expected_datetime": iso(d.deadline),
                "address": " ".join(names),
                "address_id": str(areas[leaf].pk) if leaf in areas else None,
                "zipcode": None,
                "lat": None,
                "long": None,
                "media_url": None,
            }
        )
    return rows


def check_coordinates(lat: str, long: str) -> None:
    for name, value, bound in (("lat", lat, 90), ("long", long, 180)):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) > bound:
            raise Problem(400, _("%(name)s 不是有效的坐标。") % {"name": name})
