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
from django.utils import timezone
from django_tasks import task

from tongxin.core import periodic
from tongxin.demands import actions, rollup

logger = logging.getLogger(__name__)

STALE_RUN = periodic.STALE_RUN
KEEP_FINISHED = periodic.KEEP_FINISHED
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


def pending_sweep(now: dt.datetime | None = None):
    """The run still waiting in the queue or running (a DBTaskResult), if any."""
    return periodic.pending(sweep_deadlines_task, now)


def enqueue_sweep(now: dt.datetime | None = None) -> tuple[bool, str]:
    """Queue a run unless one is already waiting or running: (queued, what happened),
    the second for the scheduler's log line."""
    return periodic.enqueue_once(sweep_deadlines_task, "a sweep", now, name="sweep")


def prune_finished_sweeps(now: dt.datetime | None = None) -> int:
    """Delete the finished runs older than a day (periodic.KEEP_FINISHED)."""
    return periodic.prune_finished(sweep_deadlines_task, now)
