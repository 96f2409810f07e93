"""Background work for the board: linking new demands into hot-topic groups (热点问题).

``manage.py db_worker`` runs :func:`link_hot_topics_task`; the scheduler queues it with
:func:`enqueue_link` (every minute, unless one is still waiting or running), so a new
demand is in its group on the board within a minute or two of intake. The linking is
safe to run twice at once (see :func:`tongxin.board.hot.link_pending`): a second worker
waits for the first community by community and finds nothing left to do."""

from __future__ import annotations

import datetime as dt
import logging

from django_tasks import task

from tongxin.board import hot
from tongxin.core import periodic

logger = logging.getLogger(__name__)

STALE_RUN = periodic.STALE_RUN
KEEP_FINISHED = periodic.KEEP_FINISHED
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


def pending_link(now: dt.datetime | None = None):
    """The run still waiting in the queue or running (a DBTaskResult), if any."""
    return periodic.pending(link_hot_topics_task, now)


def enqueue_link(now: dt.datetime | None = None) -> tuple[bool, str]:
    """Queue a run unless one is already waiting or running: (queued, what happened),
    the second for the scheduler's log line."""
    return periodic.enqueue_once(
        link_hot_topics_task, "hot-topic linking", now, name="hot-topic linking"
    )


def prune_finished_links(now: dt.datetime | None = None) -> int:
    """Delete the finished runs older than a day (periodic.KEEP_FINISHED)."""
    return periodic.prune_finished(link_hot_topics_task, now)
