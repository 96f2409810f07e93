"""Background work for demands: the deadline sweep (超期升级) and, with it, the refresh
of the daily rollup (tongxin.demands.rollup).

``manage.py db_worker`` runs :func:`sweep_deadlines_task`; ``manage.py run_scheduler``
puts it on the queue every minute unless one is still waiting or running. The sweep
itself is safe to run twice at once (each escalation is one conditional UPDATE), so a
second scheduler or worker costs a wasted query, never a double escalation."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from tongxin.demands import actions, rollup

logger = logging.getLogger(__name__)

# A run that started this long ago and is still marked running belongs to a worker
# that died (killed, machine restarted): it no longer holds the next one back.
STALE_RUN = dt.timedelta(minutes=15)
# Finished sweeps are kept this long (one a minute would be half a million a year).
KEEP_FINISHED = dt.timedelta(days=1)
# Demands escalated per round, and rounds per run (more full rounds than this in one
# minute means something loops: stop, log, and let the next run go on).
SWEEP_BATCH = 500
MAX_ROUNDS = 20


@task()
def sweep_deadlines_task() -> int:
    """Escalate every overdue demand once, then bring the daily rollup up to date (the
    escalations, and every other change since the last run, marked days to recount);
    returns how many were escalated."""
    now = timezone.now()
    total = 0
    for _round in range(MAX_ROUNDS):
        escalated = actions.sweep_deadlines(now, batch=SWEEP_BATCH)
        total += escalated
        if escalated < SWEEP_BATCH:
            break
    else:
        logger.warning(
            "sweep stopped after %d full batches; the rest waits for the next run", MAX_ROUNDS
        )
    if total:
        logger.info("sweep escalated %d overdue demand(s)", total)
    rollup.refresh()
    _optimize_sqlite()
    return total


def _optimize_sqlite() -> None:
    """Keep SQLite's table statistics current (what PostgreSQL's autovacuum does by
    itself): without them its planner can pick a poor index for the dashboards' counts.
    ``PRAGMA optimize`` analyses only the tables whose statistics are out of date, so
    most runs cost nothing."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize=0x10002")


def _uses_database_queue() -> bool:
    return isinstance(sweep_deadlines_task.get_backend(), DatabaseBackend)


def pending_sweep(now: dt.datetime | None = None):
    """The sweep still waiting in the queue or running (a DBTaskResult), if any."""
    now = now or timezone.now()
    return (
        DBTaskResult.objects.filter(task_path=sweep_deadlines_task.module_path)
        .filter(
            Q(status=TaskResultStatus.READY)
            | Q(status=TaskResultStatus.RUNNING, started_at__gte=now - STALE_RUN)
        )
        .order_by("enqueued_at")
        .first()
    )


def enqueue_sweep(now: dt.datetime | None = None) -> tuple[bool, str]:
    """Queue a sweep unless one is already waiting or running: (queued, what happened),
    the second for the scheduler's log line."""
    now = now or timezone.now()
    if _uses_database_queue():
        waiting = pending_sweep(now)
        if waiting is not None:
            since = int((now - (waiting.started_at or waiting.enqueued_at)).total_seconds())
            state = "running" if waiting.status == TaskResultStatus.RUNNING else "queued"
            note = ""
            if state == "queued" and since > 300:
                note = " — is manage.py db_worker running?"
            return False, f"skipped: a sweep has been {state} for {since}s{note}"
    result = sweep_deadlines_task.enqueue()
    return True, f"queued sweep {result.id}"


def prune_finished_sweeps(now: dt.datetime | None = None) -> int:
    """Delete the sweep's own finished results older than :data:`KEEP_FINISHED`."""
    if not _uses_database_queue():
        return 0
    now = now or timezone.now()
    deleted, _by_model = DBTaskResult.objects.filter(
        task_path=sweep_deadlines_task.module_path,
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=now - KEEP_FINISHED,
    ).delete()
    return deleted
