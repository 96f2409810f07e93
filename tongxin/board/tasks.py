"""Background work for the board: linking new demands into hot-topic groups (热点问题).

``manage.py db_worker`` runs :func:`link_hot_topics_task`; the scheduler queues it with
:func:`enqueue_link` (every minute, unless one is still waiting or running), so a new
demand is in its group on the board within a minute or two of intake. The linking is
safe to run twice at once (see :func:`tongxin.board.hot.link_pending`): a second worker
waits for the first community by community and finds nothing left to do."""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from tongxin.board import hot

logger = logging.getLogger(__name__)

# As for the deadline sweep (tongxin.demands.tasks): a run marked running for longer
# belongs to a dead worker; finished runs are kept a day.
STALE_RUN = dt.timedelta(minutes=15)
KEEP_FINISHED = dt.timedelta(days=1)
# Rounds of hot.link_pending per run. A minute brings a few demands; after an outage or
# on the first run (every demand of the last 30 days unlinked) the rest waits for the
# next run, a minute later.
MAX_ROUNDS = 20


def link_all(
    *, batch: int = hot.LINK_BATCH, max_rounds: int | None = MAX_ROUNDS, everything: bool = False
) -> int:
    """Call :func:`hot.link_pending` until nothing is left (or ``max_rounds`` rounds);
    returns how many demands were linked. ``everything``: also the old ones that need no
    link (see link_pending), in the first round."""
    total, rounds = 0, 0
    while max_rounds is None or rounds < max_rounds:
        linked = hot.link_pending(batch=batch, everything=everything and rounds == 0)
        total += linked
        rounds += 1
        if linked < batch:  # the last batch was not full: nothing is left
            break
    else:
        logger.warning("hot-topic linking stopped after %d rounds; the rest waits", rounds)
    return total


@task()
def link_hot_topics_task() -> int:
    """Link the demands collected since the last run into their hot-topic groups."""
    linked = link_all()
    if linked:
        logger.info("hot topics: linked %d demand(s)", linked)
    return linked


def _uses_database_queue() -> bool:
    return isinstance(link_hot_topics_task.get_backend(), DatabaseBackend)


def pending_link(now: dt.datetime | None = None):
    """The linking run still waiting in the queue or running (a DBTaskResult), if any."""
    now = now or timezone.now()
    return (
        DBTaskResult.objects.filter(task_path=link_hot_topics_task.module_path)
        .filter(
            Q(status=TaskResultStatus.READY)
            | Q(status=TaskResultStatus.RUNNING, started_at__gte=now - STALE_RUN)
        )
        .order_by("enqueued_at")
        .first()
    )


def enqueue_link(now: dt.datetime | None = None) -> tuple[bool, str]:
    """Queue a linking run unless one is already waiting or running: (queued, what
    happened), the second for the scheduler's log line."""
    now = now or timezone.now()
    if _uses_database_queue():
        waiting = pending_link(now)
        if waiting is not None:
            since = int((now - (waiting.started_at or waiting.enqueued_at)).total_seconds())
            state = "running" if waiting.status == TaskResultStatus.RUNNING else "queued"
            note = ""
            if state == "queued" and since > 300:
                note = " — is manage.py db_worker running?"
            return False, f"skipped: hot-topic linking has been {state} for {since}s{note}"
    result = link_hot_topics_task.enqueue()
    return True, f"queued hot-topic linking {result.id}"


def prune_finished_links(now: dt.datetime | None = None) -> int:
    """Delete the linking runs' own finished results older than :data:`KEEP_FINISHED`."""
    if not _uses_database_queue():
        return 0
    now = now or timezone.now()
    deleted, _by_model = DBTaskResult.objects.filter(
        task_path=link_hot_topics_task.module_path,
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=now - KEEP_FINISHED,
    ).delete()
    return deleted
