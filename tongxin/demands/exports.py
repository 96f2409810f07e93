"""Background exports of the ledger (台账导出任务): a filter with more rows than the
ledger writes while the user waits becomes an :class:`ExportJob`, which the task
queue's worker (``manage.py db_worker``) writes to a file under
``settings.TONGXIN_EXPORT_DIR``, counting its progress for the job page. The file is
its creator's alone, and is deleted after :data:`KEEP`.

- :func:`start_export` makes the job, or hands back the same user's job for the same
  filter while it is still under way (a double click, a refresh).
- :func:`process_export` claims it, rebuilds the filter from the user and the kept
  query string, within the user's scope as it is then, writes to a temporary name and
  renames the file into place before marking the job done: a killed worker leaves a
  temporary file (deleted later) and a job that goes stale, never a half file marked done.
  openpyxl's own working file (the whole sheet, before it is zipped) is kept beside
  it, in the job's working folder, not in the system's temporary folder.
- :func:`expire_exports` deletes the files past their time and any file no job refers
  to, and marks stale jobs failed. The scheduler queues it once an hour
  (``manage.py run_scheduler``), and every export job runs it after its own work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction
from django.http import QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from tongxin.accounts.models import User
from tongxin.audit.models import AuditEntry
from tongxin.core import periodic
from tongxin.core.prepared import Prepared
from tongxin.demands import ledger
from tongxin.demands.forms_ledger import filtered
from tongxin.demands.models import ExportJob

logger = logging.getLogger(__name__)
Status = ExportJob.Status
# How long a finished file is kept for download.
KEEP_HOURS = 24
KEEP = dt.timedelta(hours=KEEP_HOURS)
# One user's exports queued or running at once: each is minutes of the worker's time.
MAX_UNDER_WAY = 3
# A file no job refers to (a worker killed between the rename and the commit) is left
# this long, so the moment between the two is never taken for that.
ORPHAN_GRACE = dt.timedelta(minutes=10)
_PART = re.compile(r"^\.part-(\d+)-")


class TooManyExports(Exception):
    """The user has :data:`MAX_UNDER_WAY` exports under way already."""


def export_dir() -> Path:
    """The folder of the files, made on first use, readable by this account alone."""
    path = Path(settings.TONGXIN_EXPORT_DIR)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def start_export(user: User, query: str, description: str) -> tuple[ExportJob, bool]:
    """Queue an export of the ledger filtered by ``query`` (forms_ledger.filter_query):
    (the job, True). The same user's job for the same filter, if one is still queued
    or running, instead: (that job, False). Raises :class:`TooManyExports`."""
    now = timezone.now()
    with transaction.atomic():
        # One user's requests one at a time, so two quick clicks cannot both pass.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        under_way = list(ExportJob.objects.of(user).under_way(now))
        for job in under_way:
            if job.query == query:
                return job, False
        if len(under_way) >= MAX_UNDER_WAY:
            raise TooManyExports
        job = ExportJob.objects.create(
            created_by=user,
            query=query,
            description=description[:500],
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        transaction.on_commit(lambda: run_export.enqueue(job.pk))
    return job, True


@task(queue_name="long")  # minutes of work: its own worker (settings.TASK_QUEUES)
def run_export(job_id: int) -> None:
    job = ExportJob.objects.filter(pk=job_id).select_related("created_by").first()
    if job is not None:
        process_export(job)
    # Then the tidying up, so that it costs no export if it fails (a folder's rights).
    expire_exports()


def process_export(job: ExportJob) -> ExportJob:
    """Write the job's file. Leaves the job done or failed, and never raises."""
    now = timezone.now()
    # Claim the job, so a task enqueued or retried twice does the work once.
    claimed = ExportJob.objects.filter(pk=job.pk, status=Status.PENDING).update(
        status=Status.RUNNING, started_at=now, updated_at=now
    )
    if not claimed:
        return job
    job.status, job.started_at, job.updated_at = Status.RUNNING, now, now
    try:
        with translation.override(job.language):
            _write(job)
    except Exception:
        logger.exception("Export job %s failed", job.pk)
        with translation.override(job.language):
            _fail(job, _("导出时发生意外错误，请稍后重新导出；仍不成功请联系管理员。"))
    return job


def _write(job: ExportJob) -> None:
    try:
        form, demands, now = filtered(job.created_by, QueryDict(job.query))
    except PermissionDenied:
        _fail(job, _("您已没有查看问题台账的权限，未导出。"))
        return
    if form.is_bound and not form.is_valid():
        # As the ledger refuses to export a filter in error (a part of it would be left
        # out, and the file would hold more than was asked).
        _fail(
            job,
            _(
                "筛选条件已超出您现在的管辖范围（区域或责任人有变动），未导出。请回到问题台账重新筛选。"
            ),
        )
        return
    _save(job, total_rows=demands.count(), updated_at=timezone.now())
    folder = export_dir()
    with (
        _working_files_in(folder / f".part-{job.pk}-work"),
        tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".part-{job.pk}-", suffix=".xlsx", delete=False
        ) as out,
    ):
        part = Path(out.name)
        try:
            count = ledger.write_xlsx(demands, out, now, progress=lambda n: _progress(job, n))
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    name = f"{job.pk}-{secrets.token_hex(8)}.xlsx"
    os.replace(part, folder / name)
    finished = timezone.now()
    with transaction.atomic():
        done = ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.DONE,
            file_name=name,
            total_rows=count,
            processed_rows=count,
            finished_at=finished,
            updated_at=finished,
            expires_at=finished + KEEP,
            message="",
        )
        if done:
            AuditEntry.objects.create(
                user=job.created_by,
                action=AuditEntry.Action.EXPORT,
                target=f"{job._meta.label_lower}:{job.pk}",
                target_label=str(job)[:200],
                detail=(
                    _("导出问题台账：%(filter)s；共 %(n)d 行")
                    % {"filter": form.to_filter().describe(), "n": count}
                )[:500],
                ip=None,
            )
    if not done:
        # Declared stale meanwhile, and the user told it failed: the file goes too.
        (folder / name).unlink(missing_ok=True)
        return
    job.status, job.file_name, job.total_rows, job.processed_rows = (
        Status.DONE,
        name,
        count,
        count,
    )
    job.finished_at, job.expires_at = finished, finished + KEEP


@contextlib.contextmanager
def _working_files_in(folder: Path) -> Iterator[None]:
    """The process's temporary files made in ``folder`` (removed afterwards, with
    whatever is left in it). openpyxl writes a sheet's rows to a temporary file before
    it zips them into the workbook, and takes no folder for it: in the system's
    temporary folder a district's ledger (hundreds of MB of residents' names and phone
    numbers) would sit in memory where /tmp is a tmpfs (Debian 13's default). Here it is
    on the data disk, in a folder of this account's alone. The long worker runs one
    task at a time, so setting the process's folder for the while is safe."""
    folder.mkdir(mode=0o700, exist_ok=True)
    before = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = before
        shutil.rmtree(folder, ignore_errors=True)


def _progress(job: ExportJob, rows: int) -> None:
    _save(job, processed_rows=rows, updated_at=timezone.now())


def _save(job: ExportJob, **fields) -> None:
    """Write a few fields of the job where the page polling it sees them at once.

    On SQLite, from another connection: while the export's read is open, its own
    connection is held to the snapshot the read began with (WAL), and once anyone else
    has written since (a resident reporting, a worker signing in, the sweep) it cannot
    write at all: "database is locked" at once, whatever the busy timeout. Inside a
    transaction (the tests') there is no such snapshot to fear, and another connection
    would not see the job."""
    for name, value in fields.items():
        setattr(job, name, value)

    def update() -> None:
        ExportJob.objects.filter(pk=job.pk).update(**fields)

    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        _on_another_connection(update)
    else:
        update()


def _on_another_connection(work) -> None:
    """Run ``work`` in a thread of its own, so with a database connection of its own."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:
            failed.append(e)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def _fail(job: ExportJob, message: str) -> None:
    _save(job, status=Status.FAILED, message=message[:500], finished_at=timezone.now())


# --- expiry -----------------------------------------------------------------------------------
def expire_exports(now: dt.datetime | None = None) -> int:
    """Delete the files past their time and mark their jobs expired; mark stale jobs
    failed; delete any file in the folder no job still needs. Returns how many jobs
    expired."""
    now = now or timezone.now()
    for job in ExportJob.objects.stale(now):
        job.fail_if_stale(now)
    folder = export_dir()
    expired = 0
    for job in ExportJob.objects.expired(now):
        if ExportJob.objects.filter(pk=job.pk, status=Status.DONE).update(
            status=Status.EXPIRED, file_name=""
        ):
            expired += 1
            (folder / job.file_name).unlink(missing_ok=True)
    _delete_orphans(folder, now)
    return expired


def _delete_orphans(folder: Path, now: dt.datetime) -> None:
    """Files of no job: a complete file whose job is not done (a worker killed between
    the rename and the commit, a job deleted with its user, a database restored from a
    backup), a temporary file or working folder whose job is no longer running (a
    worker killed while writing)."""
    kept = set(
        ExportJob.objects.filter(status=Status.DONE)
        .exclude(file_name="")
        .values_list("file_name", flat=True)
    )
    writing = set(
        ExportJob.objects.filter(status=Status.RUNNING).under_way(now).values_list("pk", flat=True)
    )
    grace = (now - ORPHAN_GRACE).timestamp()
    for path in folder.iterdir():
        if m := _PART.match(path.name):
            if int(m[1]) in writing:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        elif path.is_file() and path.name not in kept and path.stat().st_mtime < grace:
            path.unlink(missing_ok=True)


@task()
def expire_exports_task() -> int:
    return expire_exports()


def enqueue_expiry(now: dt.datetime | None = None) -> tuple[bool, str]:
    """Queue :func:`expire_exports_task` unless one is waiting or running (the scheduler,
    once an hour)."""
    return periodic.enqueue_once(expire_exports_task, "an export expiry", now)


def prune_finished(now: dt.datetime | None = None) -> int:
    """Delete the queue's finished results of the export tasks older than a day."""
    return periodic.prune_finished(expire_exports_task, now) + periodic.prune_finished(
        run_export, now
    )


# --- reading ------------------------------------------------------------------------------
def recent_for(
    user: User, limit: int, within: dt.timedelta | None = None, now: dt.datetime | None = None
) -> list[ExportJob]:
    """The user's latest jobs (made ``within`` that time), those gone stale shown (and
    marked) failed."""
    now = now or timezone.now()
    if within is None:
        jobs = list(ExportJob.objects.of(user)[:limit])
    else:
        # Every ledger page shows them: the query is built once per process.
        jobs = _RECENT.list(("within", limit), _recent(limit), user.pk, now - within)
    for job in jobs:
        job.fail_if_stale(now)
    return jobs


def _recent(limit: int):
    def build(user_id: int, since: dt.datetime):
        return ExportJob.objects.filter(created_by_id=user_id, created_at__gte=since)[:limit]

    return build


_RECENT = Prepared(size=4)


def get_export_for(user: User, pk: int) -> ExportJob | None:
    """One of the user's own jobs, a stale one marked failed; None for anyone else's."""
    job = ExportJob.objects.of(user).filter(pk=pk).first()
    if job is not None:
        job.fail_if_stale(timezone.now())
    return job
