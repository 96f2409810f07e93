"""django-tasks' database backend (django-tasks-db), writing a queued task's row with
:func:`tongxin.core.prepared.insert` instead of ``DBTaskResult.objects.create``.

Every intake queues the delivery of its message in the transaction that writes the
demand; building the row's INSERT was a tenth of the intake's cost. The row is the
library's own, field for field, and everything else (the worker, results, retries) is
the library's."""

from __future__ import annotations

from typing import Any

from django_tasks_db import DatabaseBackend as LibraryBackend
from django_tasks_db.compat import normalize_json

from tongxin.core import prepared


class DatabaseBackend(LibraryBackend):
    def _task_to_db_task(self, task, args, kwargs) -> Any:
        from django_tasks_db.models import DBTaskResult

        return prepared.insert(
            DBTaskResult(
                id=self._get_id(),
                args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                run_after=task.run_after,
                backend_name=self.alias,
            )
        )
