"""The JSON API, version 1 (docs/api.md). Each endpoint authorises through the same
scope as the pages: a row outside it answers 404, whether or not it exists."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Header, NinjaAPI, Path, Query, Status
from ninja.openapi.docs import Swagger

from tongxin.accounts.scope import Scope, get_demand_for, get_resident_for, scope_for
from tongxin.api import errors
from tongxin.api.auth import AUTH
from tongxin.api.errors import ApiError, documented
from tongxin.api.models import ApiToken
from tongxin.api.schemas import (
    MAX_ID,
    AreaFilters,
    AreaOut,
    AreaPage,
    CategoryOut,
    DemandCreatedOut,
    DemandDetailOut,
    DemandFilters,
    DemandIn,
    DemandPage,
    MetricsFilters,
    MetricsOut,
    PageParams,
    ResidentFilters,
    ResidentOut,
    ResidentPage,
)
from tongxin.areas.models import COMMUNITIES, Area, Level
from tongxin.core.prepared import Prepared
from tongxin.core.refcache import ReferenceCache
from tongxin.demands import actions, ledger, metrics
from tongxin.demands.models import Category, Channel, Demand, DemandEvent, State
from tongxin.demands.views_public import public_events
from tongxin.demands.views_staff import rights_for
from tongxin.people.idnumbers import clean_phone
from tongxin.people.models import CareTag, Resident

api = NinjaAPI(
    title="同心 Tongxin API",
    version="1",
    description="社区诉求闭环的数据接口。说明见 docs/api.md。",
    auth=AUTH,
    urls_namespace="api-v1",
    docs=Swagger(settings={"persistAuthorization": False}),
)
errors.install(api)

# Channels a client may name; the public page's own ones and Open311 are not theirs.
API_CHANNELS = [c for c in Channel.values if c not in (Channel.OPEN311, Channel.WISH_WALL)]


def _page(qs: QuerySet, params: PageParams, render) -> dict:
    count = qs.count()
    start = (params.page - 1) * params.page_size
    rows = list(qs[start : start + params.page_size]) if start < count else []
    more = start + params.page_size < count
    return {
        "count": count,
        "page": params.page,
        "page_size": params.page_size,
        "next_page": params.page + 1 if more else None,
        "items": [render(r) for r in rows],
    }


def _staff(scope: Scope) -> None:
    """The register and the figures are for staff with an area, as on the pages."""
    if not scope.sees_area_tree:
        raise ApiError(403)


def _day(value: dt.date | None) -> dt.date | None:
    if value is not None and not (dt.date(2000, 1, 1) <= value <= dt.date(2100, 12, 31)):
        raise ApiError(422, _("日期须在 2000-01-01 至 2100-12-31 之间。"))
    return value


# --- areas ------------------------------------------------------------------------------
def area_out(a: Area) -> dict:
    parent = a.path[: -Area.steplen] if a.depth > 1 else None
    return {
        "id": a.pk,
        "name": a.name,
        "level": a.level,
        "level_label": str(Level(a.level).label) if a.level in Level.values else "",
        "parent_id": getattr(a, "parent_pk", None) if parent else None,
        "depth": a.depth,
    }


@api.get("/areas", response={200: AreaPage, **documented(403)}, summary="区域列表", tags=["区域"])
def list_areas(request: HttpRequest, filters: Query[AreaFilters]):
    """The areas in the caller's scope, in tree order."""
    scope = scope_for(request.user)
    qs = scope.areas().order_by("path")
    if filters.level is not None:
        qs = qs.filter(level=filters.level)
    if filters.parent is not None:
        parent = scope.areas().filter(pk=filters.parent).first()
        if parent is None:
            raise ApiError(404)
        qs = qs.filter(path__startswith=parent.path, depth=parent.depth + 1)
    page = _page(qs, filters, lambda a: a)
    _with_parents(page["items"])
    page["items"] = [area_out(a) for a in page["items"]]
    return page


def _with_parents(areas: list[Area]) -> None:
    """The parent ids of a page of areas, in one query on their path prefixes."""
    paths = {a.path[: -Area.steplen] for a in areas if a.depth > 1}
    ids = dict(Area.objects.filter(path__in=paths).values_list("path", "pk"))
    for a in areas:
        a.parent_pk = ids.get(a.path[: -Area.steplen])


@api.get(
    "/areas/{area_id}",
    response={200: AreaOut, **documented(404)},
    summary="区域详情",
    tags=["区域"],
)
def get_area(request: HttpRequest, area_id: int = Path(..., ge=1, le=MAX_ID)):
    area = scope_for(request.user).areas().filter(pk=area_id).first()
    if area is None:
        raise ApiError(404)
    _with_parents([area])
    return area_out(area)


# --- residents ----------------------------------------------------------------------------
def resident_out(r: Resident) -> dict:
    return {
        "id": r.pk,
        "name": r.name,
        "gender": r.gender,
        "id_number_masked": r.id_number_masked,
        "phone_masked": r.phone_masked,
        "household_id": r.household_id,
        "address": r.short_address,
        "tags": r.tag_list,
    }


@api.get(
    "/residents",
    response={200: ResidentPage, **documented(403, 404)},
    summary="居民列表",
    tags=["居民"],
)
def list_residents(request: HttpRequest, filters: Query[ResidentFilters]):
    """The register of the caller's area, ID numbers and phones masked."""
    scope = scope_for(request.user)
    _staff(scope)
    qs = scope.residents()
    if filters.area is not None:
        area = scope.areas().filter(pk=filters.area).first()
        if area is None:
            raise ApiError(404)
        qs = qs.within(area)
    if filters.tag:
        if filters.tag not in CareTag.values:
            raise ApiError(422, _("没有这个关爱标签。"))
        qs = qs.tagged(filters.tag)
    if filters.q and filters.q.strip():
        qs = qs.search(filters.q.strip())
    return _page(qs.order_by("household__path", "id"), filters, resident_out)


@api.get(
    "/residents/{resident_id}",
    response={200: ResidentOut, **documented(404)},
    summary="居民详情",
    tags=["居民"],
)
def get_resident(request: HttpRequest, resident_id: int = Path(..., ge=1, le=MAX_ID)):
    """One resident, masked. The whole ID number is never served by the API."""
    return resident_out(get_resident_for(request.user, resident_id))


# --- categories ------------------------------------------------------------------------------
@api.get(
    "/categories",
    response={200: list[CategoryOut], 429: errors.ErrorOut},
    auth=None,
    summary="诉求类别",
    tags=["诉求"],
)
def list_categories(request: HttpRequest):
    """The active categories (public: the report page shows them to anyone)."""
    return [
        {
            "id": c.pk,
            "code": c.code,
            "name": c.name,
            "description": c.description,
            "time_limit": c.time_limit,
            "time_unit": c.time_unit,
            "extra_fields": c.extra_fields if isinstance(c.extra_fields, list) else [],
        }
        for c in Category.objects.filter(is_active=True)
    ]


# --- demands ------------------------------------------------------------------------------------
def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """Times as the database gives them back (UTC), also for a row answered from
    memory, whose deadline the working calendar computed in Asia/Shanghai."""
    return moment.astimezone(dt.UTC) if moment is not None else None


def demand_out(d: Demand) -> dict:
    return {
        "id": d.pk,
        "number": d.number,
        "title": d.title,
        "category": {"id": d.category_id, "name": d.category.name},
        "state": d.state,
        "state_label": str(d.get_state_display()),
        "tier": d.tier,
        "channel": d.channel,
        "community": {"id": d.community_id, "name": d.community.name},
        "area_id": d.area_id,
        "reporter": d.reporter_display,
        "created_at": _utc(d.created_at),
        "deadline": _utc(d.deadline),
        "resolved_at": _utc(d.resolved_at),
        "closed_at": _utc(d.closed_at),
        "satisfaction": d.satisfaction,
    }


def _events(request: HttpRequest, d: Demand) -> list[DemandEvent]:
    """As on the pages: whoever may open the staff page sees every step, internal notes
    included; anyone else (a resident who reported it) the public steps only. A demand
    just taken in has one step, public, the one written with it: it is answered from
    memory."""
    if (submitted := getattr(d, "submitted_event", None)) is not None:
        return [submitted]
    if rights_for(request.user, d).view:
        return list(d.events.order_by("at", "id"))
    main = d.merged_into if d.state == State.MERGED else None
    return public_events(d, main)


def demand_detail_out(request: HttpRequest, d: Demand) -> dict:
    return {
        **demand_out(d),
        "description": d.description,
        "address": d.address,
        "public_answer": d.public_answer,
        "events": [
            {
                "at": e.at,
                "kind": e.kind,
                "kind_label": str(e.get_kind_display()),
                "text": e.text,
                "public": e.public,
                "state_after": e.state_after,
            }
            for e in _events(request, d)
        ],
    }


@api.get(
    "/demands", response={200: DemandPage, **documented(404)}, summary="诉求列表", tags=["诉求"]
)
def list_demands(request: HttpRequest, filters: Query[DemandFilters]):
    """The demands the caller may open, newest first. Page by ``page`` (with the total
    count) or, to go through many pages, by ``cursor``: each answer's ``next_cursor``
    (docs/api.md)."""
    cursor = _cursor(filters)
    if filters.state and filters.state not in State.values:
        raise ApiError(422, _("没有这个状态。"))
    user = request.user
    scope = scope_for(user)
    if cursor is None:
        return _demand_page(_narrowed(scope.demands(user), filters), filters)
    # After a cursor, a part of the scope at a time (Scope.page_parts, ledger.page_of).
    parts = tuple(_narrowed(part, filters) for part in scope.page_parts(user))
    found = ledger.page_of(parts, cursor, filters.page_size)
    return {
        "count": None,
        "page": None,
        "page_size": filters.page_size,
        "next_page": None,
        "next_cursor": found.next or None,
        "items": [demand_out(d) for d in found.rows],
    }


def _narrowed(qs: QuerySet, filters: DemandFilters) -> QuerySet:
    qs = qs.select_related("category", "community", "reporter")
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.category:
        qs = qs.filter(category__code=filters.category)
    if filters.community is not None:
        qs = qs.filter(community_id=filters.community)
    if since := _day(filters.since):
        qs = qs.filter(metrics.Period.days(since, None).q("created_at"))
    if until := _day(filters.until):
        qs = qs.filter(metrics.Period.days(None, until).q("created_at"))
    return qs


def _cursor(filters: DemandFilters) -> ledger.Cursor | None:
    """The cursor asked for, checked before any query; an empty one is none at all."""
    if not filters.cursor:
        return None
    if filters.page != 1:
        raise ApiError(422, _("使用翻页标记（cursor）时不能再指定页码（page）。"))
    cursor = ledger.Cursor.decode(filters.cursor)
    if cursor is None or cursor.backwards:
        # Forged, damaged or signed with another SECRET_KEY; or the ledger page's way back,
        # which the API does not offer.
        raise ApiError(422, _("翻页标记无效，请从第一页重新开始。"))
    return cursor


def _demand_page(qs: QuerySet, filters: DemandFilters) -> dict:
    """By page number, as the other lists, with the count. It gives the cursor of the
    page after as well, so a client may switch from pages to cursors at any page: after
    a cursor the list is read by keyset (ledger.page_of, list_demands), with no count
    and no OFFSET, so the last page of a million demands costs what the first does."""
    page = _page(qs.order_by("-created_at", "-id"), filters, lambda d: d)
    rows = page["items"]
    more = page["next_page"] is not None
    page["next_cursor"] = ledger.Cursor.of(rows[-1]).encode() if more else None
    page["items"] = [demand_out(d) for d in rows]
    return page


@api.get(
    "/demands/{demand_id}",
    response={200: DemandDetailOut, **documented(404)},
    summary="诉求详情（含办理记录）",
    tags=["诉求"],
)
def get_demand(request: HttpRequest, demand_id: int = Path(..., ge=1, le=MAX_ID)):
    return demand_detail_out(request, get_demand_for(request.user, demand_id))


def _area(pk: int):
    # filter(), not first(): a primary key needs no ORDER BY (the model's ordering).
    return Area.objects.filter(pk=pk).order_by()


def _active_category(code: str):
    return Category.objects.filter(code=code, is_active=True).order_by()


_AREAS = Prepared()
_CATEGORIES = Prepared()


def _read_area(pk: int) -> Area | None:
    return _AREAS.get("area", _area, pk)


# Kept for a minute per process (core.refcache); inside a transaction read by a query.
ACTIVE_CATEGORIES = ReferenceCache(
    Category, lambda: {c.code: c for c in Category.objects.filter(is_active=True).order_by()}
)


def _read_active_category(code: str) -> Category | None:
    return _CATEGORIES.get("active", _active_category, code)


def _submission_token(request: HttpRequest, key: str | None) -> str | None:
    """The Idempotency-Key, namespaced by the caller so two callers never collide."""
    if not key:
        return None
    who = f"token:{request.api_token.pk}" if hasattr(request, "api_token") else "user"
    return hashlib.sha256(f"api|{who}|{request.user.pk}|{key}".encode()).hexdigest()


def _channel(request: HttpRequest, asked: str | None) -> str:
    if asked:
        if asked not in API_CHANNELS:
            raise ApiError(422, _("渠道无效。"), [{"loc": ["body", "channel"], "msg": asked}])
        return asked
    token = getattr(request, "api_token", None)
    integration = token is not None and token.kind == ApiToken.Kind.INTEGRATION
    return Channel.HOTLINE if integration else Channel.WEB


@api.post(
    "/demands",
    response={200: DemandCreatedOut, 201: DemandCreatedOut, **documented(400, 403, 404)},
    summary="代录诉求",
    tags=["诉求"],
)
def create_demand(
    request: HttpRequest,
    payload: DemandIn,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", max_length=100, pattern=r"^[\x21-\x7e]+$"
    ),
):
    """Take in a demand entered by the caller (代录). The same Idempotency-Key again
    returns the first demand with 200 instead of making a second one."""
    scope = scope_for(request.user)
    _staff(scope)
    # A community and the category from what this process keeps for a minute (as the
    # public form reads them), any other area by one query built once per process; the
    # scope's test (the same path prefix as Scope.areas) is made on the row read.
    area = COMMUNITIES.find(payload.area, _read_area)
    if area is None or not scope.covers_area(area):
        raise ApiError(404, _("位置不存在，或不在您的数据范围内。"))
    category = ACTIVE_CATEGORIES.get(payload.category, _read_active_category)
    if category is None:
        raise ApiError(422, _("没有这个诉求类别。"), [{"loc": ["body", "category"], "msg": ""}])
    phone = payload.reporter_phone.strip()
    if phone and not payload.is_anonymous:
        try:
            phone = clean_phone(phone)
        except Exception as e:  # Django's ValidationError, with a Chinese message
            raise ApiError(422, " ".join(getattr(e, "messages", [str(e)]))) from e
    if not payload.title.strip() or not payload.description.strip():
        raise ApiError(422, _("标题和描述不能为空。"))
    try:
        demand, created = actions.submit_demand(
            area=area,
            category=category,
            title=payload.title,
            description=payload.description,
            channel=_channel(request, payload.channel),
            reporter_name=payload.reporter_name,
            reporter_phone=phone,
            is_anonymous=payload.is_anonymous,
            entered_by=request.user,
            address=payload.address,
            submission_token=_submission_token(request, idempotency_key),
        )
    except actions.ActionError as e:
        raise ApiError(422, e.message) from e
    if not created:
        # The first demand of this Idempotency-Key, as the caller may see it now.
        demand = get_demand_for(request.user, demand.pk)
    # A new one is in ``area``, which the caller's scope covers, so it is theirs to
    # see; it is answered from the row just written rather than read back.
    return Status(
        201 if created else 200,
        {**demand_detail_out(request, demand), "tracking_code": demand.tracking_code},
    )


# --- metrics -------------------------------------------------------------------------------------
def _rate(rate: metrics.Rate) -> dict:
    pct = rate.percent()
    return {
        "numerator": rate.numerator,
        "denominator": rate.denominator,
        "percent": None if pct is None else float(pct),
    }


@api.get(
    "/metrics",
    response={200: MetricsOut, **documented(403, 404)},
    summary="办理指标",
    tags=["指标"],
)
def get_metrics(request: HttpRequest, filters: Query[MetricsFilters]):
    """结案率, 按期结案率, 满意率, 返工率 over the caller's demands (docs/metrics.md)."""
    user = request.user
    scope = scope_for(user)
    _staff(scope)
    demands = scope.demands(user)
    if filters.community is not None:
        community = scope.areas().filter(pk=filters.community).first()
        if community is None:
            raise ApiError(404)
        demands = demands.within(community)
    since, until = _day(filters.since), _day(filters.until)
    f = metrics.figures(demands, metrics.Period.days(since, until))
    return {
        "since": since,
        "until": until,
        **{
            k: getattr(f, k)
            for k in ("collected", "due", "postponed", "resolved", "resolved_on_time", "visits")
        },
        "rework": f.rework,
        "resolution_rate": _rate(f.resolution_rate),
        "on_time_rate": _rate(f.on_time_rate),
        "satisfaction_rate": _rate(f.satisfaction_rate),
        "rework_rate": _rate(f.rework_rate),
    }
