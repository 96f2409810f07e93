"""``manage.py run_scheduler``: put the deadline sweep (which also refreshes the daily
rollup) and the linking of hot topics (tongxin.board.tasks) on the task queue every
minute, and the expiry of the ledger's export files (tongxin.demands.exports) every hour.

A small long-running process beside ``manage.py db_worker``: every ``--interval``
seconds it queues :func:`tongxin.demands.tasks.sweep_deadlines_task` unless one is
still waiting or running, logs one line, and once an hour queues the export expiry and
drops the tasks' own finished results older than a day. SIGTERM or SIGINT (Ctrl-C)
stops it between two runs. ``--once`` runs the sweep, the linking and the expiry here
and now instead, for cron and for tests."""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from tongxin.board import tasks as hot_tasks
from tongxin.demands import exports, tasks

logger = logging.getLogger("tongxin.scheduler")
PRUNE_EVERY = 3600.0  # seconds


class Command(BaseCommand):
    help = (
        "定时把超期诉求巡检（升级超过办理时限的诉求）放入后台队列，由 db_worker 执行；"
        "--once 立即执行一次巡检后退出。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=float,
            default=60.0,
            help="两次巡检之间的秒数（默认 60）",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="不经队列，立即执行一次巡检后退出（用于 cron 或测试）",
        )

    def handle(self, *args, interval: float, once: bool, **options) -> None:
        if once:
            escalated = tasks.sweep_deadlines_task.call()
            linked = hot_tasks.link_hot_topics_task.call()
            expired = exports.expire_exports_task.call()
            self.stdout.write(
                f"巡检完成：升级超期诉求 {escalated} 件，热点归并 {linked} 件，"
                f"删除过期导出文件 {expired} 个。"
            )
            return
        if interval <= 0:
            raise CommandError("--interval 必须大于 0")
        stop = threading.Event()

        def request_stop(signum: int, frame) -> None:
            logger.info("scheduler: %s received, stopping", signal.Signals(signum).name)
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        logger.info("scheduler: sweeping deadlines every %gs", interval)
        last_prune = float("-inf")
        try:
            while not stop.is_set():
                last_prune = self.run_once(last_prune)
                stop.wait(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("scheduler: stopped")

    def run_once(self, last_prune: float) -> float:
        """One round: queue a sweep, now and then prune. A database that is away for a
        moment is logged and tried again next round, never the end of the scheduler."""
        _drop_stale_connections()
        try:
            _queued, what = tasks.enqueue_sweep()
            logger.info("scheduler: %s", what)
            _queued, what = hot_tasks.enqueue_link()
            logger.info("scheduler: %s", what)
            if time.monotonic() - last_prune >= PRUNE_EVERY:
                _queued, what = exports.enqueue_expiry()
                logger.info("scheduler: %s", what)
                pruned = (
                    tasks.prune_finished_sweeps()
                    + hot_tasks.prune_finished_links()
                    + exports.prune_finished()
                )
                if pruned:
                    logger.info("scheduler: pruned %d finished sweep result(s)", pruned)
                last_prune = time.monotonic()
        except Exception:
            logger.exception("scheduler: this round failed; trying again next round")
        finally:
            _drop_stale_connections()
        return last_prune


def _drop_stale_connections() -> None:
    """What Django does around each request, so a long-running process does not keep a
    broken or expired connection; never inside a transaction (a test's, say)."""
    if not connection.in_atomic_block:
        close_old_connections()
