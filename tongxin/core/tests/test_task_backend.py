"""The task backend writes the row django-tasks-db writes, and answers as it answers."""

from __future__ import annotations

import pytest
from django_tasks import task_backends
from django_tasks_db import DatabaseBackend as LibraryBackend
from django_tasks_db.compat import task_enqueued
from django_tasks_db.models import DBTaskResult

from tongxin.core.task_backend import DatabaseBackend
from tongxin.demands.notify import deliver_task


@pytest.fixture
def backends(settings):
    settings.TASKS = {
        "default": {"BACKEND": "tongxin.core.task_backend.DatabaseBackend", "QUEUES": ["default"]},
        "library": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    }
    ours, theirs = task_backends["default"], task_backends["library"]
    assert type(ours) is DatabaseBackend and type(theirs) is LibraryBackend
    return ours, theirs


def _row(pk) -> dict:
    row = DBTaskResult.objects.values().get(pk=pk)
    for differs in ("id", "enqueued_at", "backend_name"):
        row.pop(differs)
    return row


def test_it_writes_the_librarys_row_and_answers_alike(db, backends):
    ours, theirs = backends
    sent = []

    def seen(sender, task_result, **kwargs):
        sent.append(task_result)

    task_enqueued.connect(seen)
    try:
        mine = ours.enqueue(deliver_task, [7], {})
        library = theirs.enqueue(deliver_task.using(backend="library"), [7], {})
    finally:
        task_enqueued.disconnect(seen)
    assert _row(mine.id) == _row(library.id)
    assert mine.status == library.status and mine.args == library.args == [7]
    assert mine.task.module_path == library.task.module_path
    # One signal each, carrying the result the caller gets.
    assert [r.id for r in sent] == [mine.id, library.id] and sent[0] == mine
    assert ours.get_result(mine.id).id == mine.id


def test_the_worker_runs_what_it_queued(db, backends):
    # The worker's own step (db_worker's run loop would also close the test's connection).
    from django_tasks_db.management.commands.db_worker import Worker

    result = deliver_task.enqueue(123456)  # a message that is not there: nothing to send
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test",
        excluded_queue_names=[],
    )
    row = DBTaskResult.objects.ready().get(pk=result.id)
    row.claim("test")
    worker.run_task(row)
    done = DBTaskResult.objects.get(pk=result.id)
    assert done.status == "SUCCESSFUL" and done.return_value == 0
