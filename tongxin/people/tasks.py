"""Background work for the people app: importing a resident spreadsheet."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from tongxin.accounts.models import User
from tongxin.accounts.scope import scope_for
from tongxin.audit.models import AuditEntry
from tongxin.people import importer
from tongxin.people.models import ImportJob

logger = logging.getLogger(__name__)
Status = ImportJob.Status
# The same file from the same user within this time after it was imported is taken
# for a double submit; a job still running after an hour is taken to have died.
REPEAT_WINDOW = dt.timedelta(minutes=10)
STALE_AFTER = dt.timedelta(hours=1)


def start_import(user: User, name: str, data: bytes) -> tuple[ImportJob, bool]:
    """Record an upload as a job and queue it; (job, True). An identical file from the
    same user that is still being imported, or was imported moments ago, is not
    imported again: (that job, False)."""
    digest = hashlib.sha256(data).hexdigest()
    now = timezone.now()
    with transaction.atomic():
        # One user's uploads one at a time, so two quick submits cannot both pass.
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        earlier = (
            ImportJob.objects.filter(created_by=user, sha256=digest)
            .filter(
                Q(status__in=ImportJob.RUNNING_STATUSES, created_at__gte=now - STALE_AFTER)
                | Q(status=Status.DONE, finished_at__gte=now - REPEAT_WINDOW)
            )
            .defer("content")
            .first()
        )
        if earlier is not None:
            return earlier, False
        job = ImportJob.objects.create(
            created_by=user,
            original_name=name[:255],
            content=data,
            sha256=digest,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
        transaction.on_commit(lambda: run_import.enqueue(job.pk))
    return job, True


@task(queue_name="long")  # minutes of work: its own worker (settings.TASK_QUEUES)
def run_import(job_id: int) -> None:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is not None:
        process_job(job)


def process_job(job: ImportJob) -> ImportJob:
    """Validate the job's file, then import it all or nothing. Leaves the job done or
    failed (never raises for a bad file), and empties the stored file either way."""
    # Claim the job, so a task enqueued or retried twice does the work once.
    if not ImportJob.objects.filter(pk=job.pk, status=Status.PENDING).update(
        status=Status.VALIDATING
    ):
        return job
    job.status = Status.VALIDATING
    try:
        with translation.override(job.language):
            _validate_and_write(job)
    except importer.ImportFileError as e:
        _finish(job, Status.FAILED, e.message)
    except Exception:
        logger.exception("Import job %s failed", job.pk)
        with translation.override(job.language):
            _finish(job, Status.FAILED, _("导入时发生意外错误，未导入任何数据。请联系管理员。"))
    return job


def _validate_and_write(job: ImportJob) -> None:
    user = job.created_by
    if not scope_for(user).can_change:
        _finish(job, Status.FAILED, _("您没有修改居民信息的权限，未导入任何数据。"))
        return
    sheet = importer.read_sheet(bytes(job.content))
    _save(job, total_rows=len(sheet.rows), processed_rows=0)
    validation = importer.validate(sheet, user, progress=lambda n: _save(job, processed_rows=n))
    if validation.errors:
        _finish(
            job,
            Status.FAILED,
            _("发现 %(errors)d 处问题，涉及 %(rows)d 行。未导入任何数据，请改正后重新上传。")
            % {"errors": len(validation.errors), "rows": validation.bad_rows},
            errors=validation.errors,
        )
        return
    _save(job, status=Status.IMPORTING, processed_rows=0)
    try:
        with transaction.atomic():
            result = importer.write_rows(validation.rows, progress=_write_progress(job))
            AuditEntry.objects.create(
                user=user,
                action=AuditEntry.Action.IMPORT,
                target=f"{job._meta.label_lower}:{job.pk}",
                target_label=job.original_name[:200],
                detail=(
                    f"导入居民 {result.created} 人，新增户 {result.households_created} 个，"
                    f"文件 {job.original_name}"
                )[:500],
                ip=None,
            )
    except importer.RowsRejected as e:
        _finish(
            job,
            Status.FAILED,
            _("导入期间有身份证号被他人登记，未导入任何数据，请改正后重新上传。"),
            errors=e.errors,
        )
        return
    except IntegrityError:
        logger.warning("Import job %s hit a constraint", job.pk, exc_info=True)
        _finish(
            job,
            Status.FAILED,
            _("写入时与同时进行的其他修改冲突（如同一身份证号），未导入任何数据。请稍后重新上传。"),
        )
        return
    job.created_count = result.created
    job.households_created = result.households_created
    _finish(
        job,
        Status.DONE,
        _("已导入居民 %(n)d 人，新增户 %(h)d 个。")
        % {"n": result.created, "h": result.households_created},
        processed_rows=job.total_rows,
    )


def _save(job: ImportJob, **fields) -> None:
    """A short write of a few fields, outside any import transaction, so the page
    polling the job sees it at once."""
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


def _write_progress(job: ImportJob):
    """Progress while the write transaction is open. PostgreSQL: from a second
    connection (another thread), so it is seen before the commit. SQLite has a single
    writer, held by the import itself, so progress waits until the end."""
    if connection.vendor == "sqlite":
        return None

    def report(n: int) -> None:
        def update() -> None:
            try:
                ImportJob.objects.filter(pk=job.pk).update(processed_rows=n)
            finally:
                connections.close_all()

        thread = threading.Thread(target=update)
        thread.start()
        thread.join()

    return report


def _finish(job: ImportJob, status: str, message: str, *, errors=None, **fields) -> None:
    fields |= {
        "status": status,
        "message": message[:500],
        "finished_at": timezone.now(),
        "content": b"",  # the personal data now lives in the register, or nowhere
        "created_count": job.created_count,
        "households_created": job.households_created,
    }
    if errors is not None:
        fields["errors"] = [e.as_dict() for e in errors]
    _save(job, **fields)
