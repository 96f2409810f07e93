"""Abuse limits in front of every API view: the body size (413 before anything reads
it) and a fixed-window rate per minute (429 with Retry-After) kept in the cache —
per client address without a key, per key with one."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from tongxin.api.auth import key_in
from tongxin.api.errors import error_response
from tongxin.audit.models import client_ip

WINDOW = 60  # seconds


def _hit(bucket: str, limit: int, now: float) -> int:
    """Counts one request; returns the seconds to wait when ``bucket`` is over ``limit``."""
    window = int(now // WINDOW)
    key = f"api-rate:{bucket}:{window}"
    cache.add(key, 0, timeout=WINDOW + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW + 5)
        count = 1
    if count > limit:
        return max(1, (window + 1) * WINDOW - int(now))
    return 0


def over_limit(request: HttpRequest) -> int:
    now = time.time()
    ip = client_ip(request) or "unknown"
    if key := key_in(request):
        # Keys that failed count against the address at the anonymous rate (below), so
        # made-up keys buy no extra room.
        if (cache.get(_failed(ip, now)) or 0) >= settings.TONGXIN_API_RATE_ANONYMOUS:
            return max(1, WINDOW - int(now) % WINDOW)
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return _hit(f"key:{digest}", settings.TONGXIN_API_RATE_KEY, now)
    if request.user.is_authenticated:  # a signed-in browser
        return _hit(f"user:{request.user.pk}", settings.TONGXIN_API_RATE_KEY, now)
    return _hit(f"ip:{ip}", settings.TONGXIN_API_RATE_ANONYMOUS, now)


def _failed(ip: str, now: float) -> str:
    return f"api-rate:failed:{ip}:{int(now // WINDOW)}"


def count_failure(request: HttpRequest) -> None:
    _hit(f"failed:{client_ip(request) or 'unknown'}", 10**9, time.time())


def _too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > settings.TONGXIN_API_MAX_BODY


def _not_json(request: HttpRequest) -> bool:
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    return request.content_type != "application/json" and bool(request.META.get("CONTENT_LENGTH"))


def guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _too_large(request):
            limit = settings.TONGXIN_API_MAX_BODY // 1024
            return error_response(413, _("请求内容不能超过 %(kb)s KB。") % {"kb": limit})
        if _not_json(request):
            return error_response(415)
        if wait := over_limit(request):
            return error_response(429, Retry_After=str(wait))
        response = view(request, *args, **kwargs)
        if response.status_code == 401 and key_in(request):
            count_failure(request)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            return error_response(405, Allow=response.get("Allow", ""))
        return response

    return wrapper
