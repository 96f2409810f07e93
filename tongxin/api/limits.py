"""Abuse limits in front of every API view: the body size (413 before anything reads
it) and a fixed-window rate per minute (429 with Retry-After) — per client address
without a key, per key with one.

The counts are rows of :class:`~tongxin.api.models.RateCount` in the database, so every
app process (several gunicorn workers, several machines on one PostgreSQL) counts
against the same number. Counting a request is one statement, committed on its own: an
upsert that adds one and returns the new count in a single atomic step (two processes
can never both read 5 and both write 6) — not the ten queries and two write
transactions of add-then-increment in Django's database cache, whose increment is a
read and a write apart."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from tongxin.api.auth import key_in
from tongxin.api.errors import error_response
from tongxin.api.models import ApiToken, RateCount
from tongxin.audit.models import client_ip

WINDOW = 60  # seconds
# In a new minute the row of a bucket starts again at 1; in the same minute it adds 1.
# (SQLite ≥ 3.35 and PostgreSQL both have INSERT … ON CONFLICT … RETURNING.)
_COUNT = """
    INSERT INTO {t} (bucket, minute, hits) VALUES (%s, %s, 1)
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN {t}.minute = excluded.minute THEN {t}.hits + 1 ELSE 1 END,
        minute = excluded.minute
    RETURNING hits
"""
_READ = "SELECT hits FROM {t} WHERE bucket = %s AND minute = %s"
# A key's count, and the failed keys of its address read in the same statement.
_COUNT_AND_READ = _COUNT.rstrip() + f", ({_READ})"
# The minute this process last removed the rows of buckets not seen for a while: a
# cleanup schedule only, the counts themselves are in the table.
_purged = 0


def _bucket(name: str) -> str:
    return name[: RateCount._meta.get_field("bucket").max_length]


def _hit(bucket: str, limit: int, now: float, failed: str | None = None) -> int:
    """Counts one request; returns the seconds to wait when ``bucket`` is over ``limit``.

    With ``failed``, that bucket (not counted) is read in the same statement: at the
    anonymous limit the request is refused, though it has been counted for ``bucket``
    all the same (an address refused so uses up its key's minute too)."""
    window = int(now // WINDOW)
    _purge(window)
    params = [_bucket(bucket), window]
    if failed is not None:
        params += [_bucket(failed), window]
    # On SQLite a transaction of its own, so that the count queues with the other
    # writers (tongxin.core.sqlite) instead of meeting them in SQLite's busy handler.
    alone = connection.vendor == "sqlite" and not connection.in_atomic_block
    queued = transaction.atomic() if alone else nullcontext()
    with queued, connection.cursor() as cursor:
        table = connection.ops.quote_name(RateCount._meta.db_table)
        cursor.execute((_COUNT if failed is None else _COUNT_AND_READ).format(t=table), params)
        # fetchall: SQLite ends the statement (and its write) only when it is stepped out.
        ((count, *failures),) = cursor.fetchall()
    return _wait(count, failures, limit, now, window)


def _hit_reading(read, bucket: str, limit: int, now: float, failed: str):
    """:func:`_hit` of a key with ``failed``, its token read in the same statement
    (PostgreSQL: the count is a ``WITH`` of the token's query): one round trip to the
    server instead of two. Returns the seconds to wait and the token (or None)."""
    sql, token_params, objects = read
    window = int(now // WINDOW)
    _purge(window)
    table = connection.ops.quote_name(RateCount._meta.db_table)
    statement = (
        f"WITH hit AS ({_COUNT_AND_READ.format(t=table)}) "
        f"SELECT hit.*, token.* FROM hit LEFT JOIN ({sql}) AS token ON TRUE"
    )
    params = [_bucket(bucket), window, _bucket(failed), window, *token_params]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        ((count, failure, *columns),) = cursor.fetchall()
    token = objects([columns])[0] if columns[0] is not None else None
    return _wait(count, [failure], limit, now, window), token


def _wait(count: int, failures: list, limit: int, now: float, window: int) -> int:
    if failures and (failures[0] or 0) >= settings.TONGXIN_API_RATE_ANONYMOUS:
        return max(1, WINDOW - int(now) % WINDOW)
    if count > limit:
        return max(1, (window + 1) * WINDOW - int(now))
    return 0


def _purge(window: int) -> None:
    """Once a minute per process: drop the buckets idle since before the last minute."""
    global _purged
    if window != _purged:
        _purged = window
        RateCount.objects.filter(minute__lt=window - 1).delete()


def over_limit(request: HttpRequest) -> int:
    now = time.time()
    ip = client_ip(request) or "unknown"
    if key := key_in(request):
        # Keys that failed count against the address at the anonymous rate (below), so
        # made-up keys buy no extra room.
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        bucket, limit, failed = f"key:{digest}", settings.TONGXIN_API_RATE_KEY, f"failed:{ip}"
        if connection.vendor == "postgresql" and (read := ApiToken.reading(key)):
            wait, token = _hit_reading(read, bucket, limit, now, failed)
            request.api_token_read = (key, token)  # for the authentication that follows
            return wait
        return _hit(bucket, limit, now, failed=failed)
    if request.user.is_authenticated:  # a signed-in browser
        return _hit(f"user:{request.user.pk}", settings.TONGXIN_API_RATE_KEY, now)
    return _hit(f"ip:{ip}", settings.TONGXIN_API_RATE_ANONYMOUS, now)


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
