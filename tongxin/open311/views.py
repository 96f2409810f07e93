"""GeoReport v2 endpoints (open311.org). Plain function views: each parses its
input, authorises through the API key's user and the data scope, calls the demand
loop's actions, and answers in the format the URL's suffix asks for.

Reading is public, as the spec has it, so what is read carries no personal data (see
docs/open311.md). Posting needs an API key (tongxin.api.ApiToken)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from tongxin.accounts.scope import scope_for
from tongxin.api.models import ApiToken
from tongxin.audit.models import client_ip
from tongxin.demands import actions
from tongxin.demands.models import Category, Channel, Demand
from tongxin.open311 import georeport
from tongxin.open311.location import place_for
from tongxin.open311.render import FORMATS, Problem, error_response, respond

MAX_BODY = getattr(settings, "TONGXIN_OPEN311_MAX_BODY", 64 * 1024)
MAX_QUERY = 8 * 1024
MAX_FIELDS = 100
# Requests per client address per minute.
RATE_LIMITS = getattr(settings, "TONGXIN_OPEN311_RATE_LIMITS", {"GET": 120, "POST": 10})
READER_FIELDS = ("first_name", "last_name", "phone", "email", "device_id", "account_id")


def jurisdiction() -> str:
    return getattr(settings, "TONGXIN_OPEN311_JURISDICTION", "tongxin")


def _over_limit(request: HttpRequest) -> bool:
    limit = RATE_LIMITS.get(request.method, RATE_LIMITS["GET"])
    window = int(timezone.now().timestamp() // 60)
    key = f"open311:{request.method}:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key) > limit
    except ValueError:  # evicted between add and incr: count it as the first
        return False


def endpoint(*methods: str) -> Callable:
    """Format, method, size, rate and jurisdiction checks common to every endpoint;
    a Problem raised inside becomes an error in the spec's format."""

    def wrap(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def inner(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            if fmt not in FORMATS:
                return error_response("json", 404, _("格式只能是 .xml 或 .json。"))
            try:
                if request.method not in methods:
                    response = error_response(fmt, 405, _("不支持此请求方法。"))
                    response["Allow"] = ", ".join(methods)
                    return response
                if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY:
                    raise Problem(414, _("查询参数过长。"))
                if _over_limit(request):
                    response = error_response(fmt, 429, _("请求过于频繁，请稍后再试。"))
                    response["Retry-After"] = "60"
                    return response
                params = _form(request) if request.method == "POST" else request.GET
                if any("\x00" in k or "\x00" in v for k, v in params.items()):
                    # PostgreSQL cannot compare with it, and no honest query holds one.
                    raise Problem(400, _("请求内容含有空字符。"))
                given = params.get("jurisdiction_id", "")
                if given and given != jurisdiction():
                    raise Problem(404, _("jurisdiction_id 不存在。"))
                return view(request, fmt, params, **kwargs)
            except Problem as problem:
                return error_response(fmt, problem.status, problem.description)

        return inner

    return wrap


def _form(request: HttpRequest) -> dict[str, str]:
    """The form-encoded body, read strictly: the spec's POST is
    application/x-www-form-urlencoded in UTF-8, and anything else is refused."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Problem(400, _("Content-Length 无效。")) from None
    if length > MAX_BODY:
        raise Problem(413, _("请求内容过大（上限 %(kb)s KB）。") % {"kb": MAX_BODY // 1024})
    content_type = request.content_type or ""
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if content_type != "application/x-www-form-urlencoded" or charset not in ("utf-8", "utf8"):
        raise Problem(400, _("请以 application/x-www-form-urlencoded（UTF-8）提交。"))
    try:
        body = request.body.decode("utf-8")
        pairs = parse_qsl(
            body,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, _("请求内容不是有效的 UTF-8 表单。")) from None
    return dict(pairs)


def _token_from(params) -> ApiToken | None:
    key = params.get("api_key", "")
    if not key:
        return None
    token = ApiToken.authenticate(key)
    if token is None:
        raise Problem(403, _("api_key 无效。"))
    return token


def _category(code: str) -> Category:
    category = Category.objects.filter(code=code, is_active=True).first()
    if category is None:
        raise Problem(404, _("service_code 不存在：%(code)s") % {"code": code})
    return category


# --- services ----------------------------------------------------------------------------
@endpoint("GET")
def services(request: HttpRequest, fmt: str, params) -> HttpResponse:
    rows = [georeport.service(c) for c in Category.objects.filter(is_active=True)]
    return respond(fmt, "services", rows)


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, params, code: str) -> HttpResponse:
    category = _category(code)
    return respond(fmt, "service_definition", georeport.service_definition(category))


# --- requests ----------------------------------------------------------------------------
@endpoint("GET", "POST")
def requests(request: HttpRequest, fmt: str, params) -> HttpResponse:
    if request.method == "POST":
        return _post_request(fmt, params)
    token = _token_from(params)
    demands = Demand.objects.all()
    if params.get("service_request_id"):
        # The spec: a list of ids overrides every other filter.
        demands = demands.filter(pk__in=georeport.parse_ids(params["service_request_id"]))
    else:
        codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
        if codes:
            known = set(Category.objects.filter(code__in=codes).values_list("code", flat=True))
            if set(codes) - known:
                raise Problem(
                    400,
                    _("service_code 不存在：%(code)s")
                    % {"code": ",".join(sorted(set(codes) - known))},
                )
            demands = demands.filter(category__code__in=codes)
        start, end = georeport.date_range(
            params.get("start_date", ""), params.get("end_date", ""), timezone.now()
        )
        demands = demands.filter(created_at__gte=start, created_at__lte=end)
        demands = georeport.filter_statuses(
            demands, georeport.parse_statuses(params.get("status", ""))
        )
    demands = georeport.for_requests(demands)[: georeport.MAX_RESULTS]
    return respond(fmt, "service_requests", _rows(demands, token))


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, params, pk: str) -> HttpResponse:
    token = _token_from(params)
    demand = georeport.for_requests(Demand.objects.filter(pk=int(pk))).first()
    if demand is None:
        raise Problem(404, _("service_request_id 不存在：%(id)s") % {"id": pk})
    return respond(fmt, "service_requests", _rows([demand], token))


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, params, token: str) -> HttpResponse:
    demand = Demand.objects.filter(tracking_code=token.upper()).only("pk").first()
    if demand is None:
        raise Problem(404, _("token 不存在：%(token)s") % {"token": token})
    return respond(
        fmt, "service_requests", [{"service_request_id": str(demand.pk), "token": token}]
    )


def _rows(demands, token: ApiToken | None) -> list[dict]:
    """Only the key's user, and only for demands they may dispatch, reads the
    resident's own description; every other reader gets none."""
    if token is None:
        return georeport.request_rows(demands)
    scope = scope_for(token.user)
    return georeport.request_rows(demands, full_text_for=scope.may_dispatch)


def _post_request(fmt: str, params: dict[str, str]) -> HttpResponse:
    if not params.get("api_key"):
        raise Problem(403, _("缺少 api_key。"))
    token = _token_from(params)
    user = token.user
    if not params.get("service_code"):
        raise Problem(400, _("缺少 service_code。"))
    category = _category(params["service_code"])
    attributes = {
        key[len("attribute[") : -1]: value
        for key, value in params.items()
        if key.startswith("attribute[") and key.endswith("]")
    }
    extra = georeport.clean_attributes(category, attributes)
    extra.update(_reporter_extra(params))
    area = place_for(user, params)
    description = params.get("description", "").strip()
    if not description and not params.get("media_url"):
        raise Problem(400, _("请填写 description（或提供 media_url）。"))
    if len(description) > 4000:
        raise Problem(400, _("description 过长（上限 4000 字）。"))
    name = (params.get("last_name", "").strip() + params.get("first_name", "").strip())[:50]
    phone = params.get("phone", "").strip()
    demand, _created = actions.submit_demand(
        area=area,
        category=category,
        title=(description.splitlines()[0][:30] if description else category.name),
        description=description or _("（见附件链接）"),
        channel=Channel.OPEN311,
        reporter_name=name,
        reporter_phone=phone,
        entered_by=user,
        extra=extra,
        address=params.get("address_string", ""),
    )
    row = {
        "service_request_id": str(demand.pk),
        "token": demand.tracking_code,
        "service_notice": _("已受理，编号 %(number)s，查询码 %(code)s。")
        % {"number": demand.number, "code": demand.tracking_code},
        "account_id": params.get("account_id") or None,
    }
    return respond(fmt, "service_requests", [row], status=201)


def _reporter_extra(params: dict[str, str]) -> dict[str, str]:
    """The optional reporter fields, checked; kept in ``extra`` for the handler.
    media_url is kept as text and never fetched (no outbound network)."""
    for field in READER_FIELDS:
        if len(params.get(field, "")) > 100:
            raise Problem(400, _("%(field)s 过长。") % {"field": field})
    phone = params.get("phone", "").strip()
    if phone and (len(phone) > 20 or not all(c.isdigit() or c in "+- ()" for c in phone)):
        raise Problem(400, _("phone 格式不正确。"))
    extra = {}
    if params.get("email"):
        try:
            validate_email(params["email"])
        except ValidationError:
            raise Problem(400, _("email 格式不正确。")) from None
        extra["open311_email"] = params["email"]
    if params.get("media_url"):
        url = params["media_url"]
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise Problem(400, _("media_url 不是有效的网址。")) from None
        extra["open311_media_url"] = url
    for field in ("device_id", "account_id"):
        if params.get(field):
            extra[f"open311_{field}"] = params[field]
    if params.get("lat") or params.get("long"):
        georeport.check_coordinates(params.get("lat", ""), params.get("long", ""))
        extra["open311_lat"], extra["open311_long"] = params["lat"], params["long"]
    return extra
