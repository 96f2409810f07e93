"""The two reference views of ``bench/run.py``, served by the same gunicorn with the same
middleware as Tongxin's pages:

- ``/bench/hello``: a short text, no database — what a request costs at the least
  (the read ceiling);
- ``/bench/insert``: POST, one INSERT of a tiny row in one transaction (the table
  ``bench_ping``, created by run.py) — the framework ceiling for a write;
- ``/bench/rows``: POST, an intake's three rows (a demand, its first event, its queued
  job) written by the very statements an intake sends, into the same tables and
  indexes, with nothing else: no form, no model, no deadline. It shows what the
  database's part of an intake leaves of the framework ceiling for everything else.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from tongxin.demands.models import new_tracking_code

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


@csrf_exempt
@require_POST
def rows(request: HttpRequest) -> HttpResponse:
    intake = _intake_statements()
    new = {
        intake.code: new_tracking_code(),
        intake.token: secrets.token_urlsafe(24),
        intake.job: intake.job_value(uuid.uuid4()),
    }
    if len(intake.sql) == 1:  # PostgreSQL: one statement, committed on its own
        ((sql, params, _key_at, _returning),) = intake.sql
        with connection.cursor() as cursor:
            cursor.execute(sql, [new.get(p, p) if type(p) in _NEW else p for p in params])
        return HttpResponse("ok", content_type="text/plain")
    with transaction.atomic(), connection.cursor() as cursor:
        key = None
        for sql, params, key_at, returning in intake.sql:
            values = [new.get(p, p) if type(p) in _NEW else p for p in params]
            if key_at is not None:
                values[key_at] = key
            cursor.execute(sql, values)
            if returning:
                returned = cursor.fetchall()
                key = returned[0][0] if key is None else key  # the demand's
    return HttpResponse("ok", content_type="text/plain")


_NEW = (str, uuid.UUID)  # the types of the values made new for each row


@dataclass(frozen=True)
class _Intake:
    """An intake's INSERTs as it sent them: (SQL, values, where the demand's key goes,
    whether it returns rows), and the values that must be new each time (unique in
    their tables), with how a new job id is written."""

    sql: list
    code: str
    token: str
    job: object
    job_value: Callable


_INTAKES: dict[str, _Intake] = {}
_LOCK = threading.Lock()


def _intake_statements() -> _Intake:
    """Once per process and database: one anonymous intake by ``submit_demand`` in a
    transaction rolled back, its INSERTs kept as they went to the database. Its tracking
    code, submission token and job id are found among their values; on SQLite the
    event's key to the demand is found by its column and filled in from the demand's
    RETURNING."""
    with _LOCK:
        if connection.alias in _INTAKES:
            return _INTAKES[connection.alias]
        from django_tasks_db.models import DBTaskResult

        from tongxin.areas.models import Area, Level
        from tongxin.demands import actions
        from tongxin.demands.models import Category, Channel, DemandEvent

        sent: list = []

        def keep(execute, sql, params, many, context):
            if sql.lstrip().upper().startswith(("INSERT", "WITH")):
                sent.append((sql, list(params or ())))
            return execute(sql, params, many, context)

        token = secrets.token_urlsafe(24)
        try:
            with transaction.atomic(), connection.execute_wrapper(keep):
                demand, _created = actions.submit_demand(
                    area=Area.objects.filter(level=Level.COMMUNITY).order_by("pk").first(),
                    category=Category.objects.filter(is_active=True).order_by("pk").first(),
                    title="楼道灯不亮（压测）",
                    description="3单元楼道灯坏了一个星期，晚上看不见路。",
                    channel=Channel.WEB,
                    is_anonymous=True,
                    submission_token=token,
                )
                raise _Undo
        except _Undo:
            pass
        if len(sent) not in (1, 3):
            raise RuntimeError(f"an intake sent {len(sent)} INSERTs, not 1 or 3")
        qn = connection.ops.quote_name
        id_field = DBTaskResult._meta.pk
        job_table, event_table = qn(DBTaskResult._meta.db_table), qn(DemandEvent._meta.db_table)
        statements, job = [], None
        for sql, params in sent:
            key_at = None
            if len(sent) == 3:
                columns = _columns(sql)
                if sql.startswith(f"INSERT INTO {job_table} "):
                    job = params[columns.index(qn(id_field.column))]
                elif sql.startswith(f"INSERT INTO {event_table} "):
                    key_at = columns.index(qn(DemandEvent._meta.get_field("demand").column))
            statements.append((sql, params, key_at, " RETURNING " in sql))
        if job is None:  # PostgreSQL: the one UUID among the values
            (job,) = [p for _sql, params in sent for p in params if type(p) is uuid.UUID]
        values = [p for _sql, params in sent for p in params]
        for value in (demand.tracking_code, token, job):
            if values.count(value) != 1:
                raise RuntimeError(
                    f"{value!r} is among an intake's values {values.count(value)} times"
                )
        intake = _INTAKES[connection.alias] = _Intake(
            statements,
            demand.tracking_code,
            token,
            job,
            lambda new: id_field.get_db_prep_save(new, connection=connection),
        )
        return intake


class _Undo(Exception):
    pass


def _columns(sql: str) -> list[str]:
    return re.search(r"\(([^)]*)\) VALUES", sql).group(1).split(", ")


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
