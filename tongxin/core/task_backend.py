"""django-tasks' database backend (django-tasks-db), writing a queued task's row with
:func:`tongxin.core.prepared.insert` instead of ``DBTaskResult.objects.create``, and
making the enqueued task's result once instead of twice (the library's ``enqueue``
makes it for the signal and again for its caller: an import and a copy of the task
each time).

Every intake queues a job in the transaction that writes the demand; building the
row's INSERT was a tenth of the intake's cost. The row is the library's own, field for
field, and everything else (the worker, results, retries) is the library's."""

from __future__ import annotations

from typing import Any

from django_tasks_db import DatabaseBackend as LibraryBackend
from django_tasks_db.compat import normalize_json, task_enqueued

from tongxin.core import prepared


class DatabaseBackend(LibraryBackend):
    def enqueue(self, task, args, kwargs) -> Any:
        # As the library's enqueue (django-tasks-db 0.13), with the result made once.
        return self.enqueued(self._task_to_db_task(task, args, kwargs))

    def _task_to_db_task(self, task, args, kwargs) -> Any:
        return prepared.insert(self.row(task, args, kwargs))

    def row(self, task, args, kwargs) -> Any:
        """The queued task's row, not yet written: for a caller that writes it together
        with its own rows (:func:`tongxin.core.prepared.insert_together`) and then
        calls :meth:`enqueued`. ``enqueue`` is both in one."""
        from django_tasks_db.models import DBTaskResult

        self.validate_task(task)
        return DBTaskResult(
            id=self._get_id(),
            args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=task.run_after,
            backend_name=self.alias,
        )

    def enqueued(self, row) -> Any:
        """The result of the task whose :meth:`row` was written, as ``enqueue`` gives it."""
        result = row.task_result
        task_enqueued.send(type(self), task_result=result)
        return result
