"""The two reference views of ``bench/run.py``, served by the same gunicorn with the same
middleware as Tongxin's pages:

- ``/bench/hello``: a short text, no database — what a request costs at the least
  (the read ceiling);
- ``/bench/insert``: POST, one INSERT of a tiny row in one transaction (the table
  ``bench_ping``, created by run.py) — the framework ceiling for a write.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

TABLE = "bench_ping"


@require_GET
def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello", content_type="text/plain")


@csrf_exempt
@require_POST
def insert(request: HttpRequest) -> HttpResponse:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (at, n) VALUES (%s, %s)", [timezone.now(), 1])
    return HttpResponse("ok", content_type="text/plain")


def create_table() -> None:
    """The tiny table both ceilings write to (the web one and the Python loop)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(id bigserial PRIMARY KEY, at timestamptz NOT NULL, n integer NOT NULL)"
            )
        else:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(id integer PRIMARY KEY AUTOINCREMENT, at text NOT NULL, n integer NOT NULL)"
            )
