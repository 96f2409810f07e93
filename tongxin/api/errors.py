"""One error body for every failure of the API:
``{"error": {"code": "not_found", "message": "…", "details": [...]}}``."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import Schema

logger = logging.getLogger(__name__)


class ErrorDetail(Schema):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class ErrorOut(Schema):
    error: ErrorDetail


def messages() -> dict[int, tuple[str, str]]:
    """The code and the Chinese message of each status (translated when asked)."""
    return {
        400: ("bad_request", _("请求有误。")),
        401: ("unauthorized", _("需要有效的接口密钥或登录。")),
        403: ("forbidden", _("您的账号无权使用此接口。")),
        404: ("not_found", _("未找到，或不在您的数据范围内。")),
        405: ("method_not_allowed", _("此接口不支持该请求方法。")),
        413: ("payload_too_large", _("请求内容过大。")),
        415: ("unsupported_media_type", _("请求内容须为 JSON。")),
        422: ("invalid", _("请求参数不符合要求。")),
        429: ("rate_limited", _("请求过于频繁，请稍后再试。")),
        500: ("server_error", _("服务器内部错误，已记录。")),
    }


def error_response(
    status: int, message: str | None = None, details: list | None = None, **headers: str
) -> JsonResponse:
    code, default = messages().get(status, ("error", _("请求失败。")))
    body = {"error": {"code": code, "message": message or default, "details": details or []}}
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class ApiError(Exception):
    """Raised by an endpoint to answer with ``status`` and the common error body."""

    def __init__(self, status: int, message: str | None = None, details: list | None = None):
        super().__init__(message or "")
        self.status = status
        self.message = message
        self.details = details


def _clean(errors: list[dict]) -> list[dict]:
    """Pydantic's errors without the submitted input (which may be personal data)."""
    return [
        {"loc": [str(p) for p in e.get("loc", [])], "msg": str(e.get("msg", ""))} for e in errors
    ]


def install(api) -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404
    from ninja.errors import AuthenticationError, HttpError, ValidationError

    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        if isinstance(exc, ApiError):
            return error_response(exc.status, exc.message, exc.details)
        if isinstance(exc, ValidationError):
            return error_response(422, details=_clean(exc.errors))
        if isinstance(exc, AuthenticationError):
            return error_response(401, WWW_Authenticate="Bearer")
        if isinstance(exc, Http404):
            return error_response(404)
        if isinstance(exc, PermissionDenied):
            return error_response(403)
        if isinstance(exc, HttpError):
            status = exc.status_code
            return error_response(status if status in messages() else 400)
        logger.exception("API error on %s", request.path)
        return error_response(500)

    # Ninja picks the handler of the nearest class: replace each of its defaults.
    for exc_class in (
        Exception,
        ApiError,
        ValidationError,
        AuthenticationError,
        Http404,
        PermissionDenied,
        HttpError,
    ):
        api.add_exception_handler(exc_class, handle)


# The error statuses an operation documents in the OpenAPI document.
def documented(*statuses: int) -> dict[int, type[ErrorOut]]:
    return dict.fromkeys((401, 422, 429, *statuses), ErrorOut)
