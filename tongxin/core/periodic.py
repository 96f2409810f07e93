"""Work the scheduler queues every minute (the deadline sweep, hot-topic linking): at
most one run of each waiting or running at a time, and the runs' own finished results
pruned. On the database queue only; another backend just runs what it is given."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

# A run that started this long ago and is still marked running belongs to a worker
# that died (killed, machine restarted): it no longer holds the next one back.
STALE_RUN = dt.timedelta(minutes=15)
# Finished runs are kept this long (one a minute would be half a million a year).
KEEP_FINISHED = dt.timedelta(days=1)


def uses_database_queue(task) -> bool:
    return isinstance(task.get_backend(), DatabaseBackend)


def pending(task, now: dt.datetime | None = None):
    """The run of ``task`` still waiting in the queue or running (a DBTaskResult), if any."""
    now = now or timezone.now()
    return (
        DBTaskResult.objects.filter(task_path=task.module_path)
        .filter(
            Q(status=TaskResultStatus.READY)
            | Q(status=TaskResultStatus.RUNNING, started_at__gte=now - STALE_RUN)
        )
        .order_by("enqueued_at")
        .first()
    )


def enqueue_once(
    task, what: str, now: dt.datetime | None = None, *, name: str | None = None
) -> tuple[bool, str]:
    """Queue ``task`` unless a run is already waiting or running: (queued, what
    happened), the second for the scheduler's log line, where ``what`` ("a sweep")
    names a run and ``name`` ("sweep", default ``what``) the one queued."""
    now = now or timezone.now()
    if uses_database_queue(task):
        waiting = pending(task, now)
        if waiting is not None:
            since = int((now - (waiting.started_at or waiting.enqueued_at)).total_seconds())
            state = "running" if waiting.status == TaskResultStatus.RUNNING else "queued"
            note = ""
            if state == "queued" and since > 300:
                note = " — is manage.py db_worker running?"
            return False, f"skipped: {what} has been {state} for {since}s{note}"
    result = task.enqueue()
    return True, f"queued {name or what} {result.id}"


def prune_finished(task, now: dt.datetime | None = None) -> int:
    """Delete the finished results of ``task`` older than :data:`KEEP_FINISHED`."""
    if not uses_database_queue(task):
        return 0
    now = now or timezone.now()
    deleted, _by_model = DBTaskResult.objects.filter(
        task_path=task.module_path,
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=now - KEEP_FINISHED,
    ).delete()
    return deleted
