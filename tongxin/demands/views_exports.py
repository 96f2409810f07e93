"""A background export of the ledger (台账导出任务): its page, the progress partial the
page polls, and the file's download, for the job's creator alone: anyone else, staff
and administrators too, gets 404 (tongxin.demands.exports)."""

from __future__ import annotations

from typing import BinaryIO

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tongxin.audit.models import AuditEntry, record
from tongxin.demands import exports, ledger
from tongxin.demands.forms_ledger import ledger_scope
from tongxin.demands.models import ExportJob

# The user's latest jobs listed under the one shown.
RECENT = 8


def _job_for(request: HttpRequest, pk: int) -> ExportJob:
    ledger_scope(request.user)  # 403 for whoever the ledger is not for
    job = exports.get_export_for(request.user, pk)
    if job is None:
        raise Http404
    return job


@login_required
@require_GET
def export_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    context = {
        "job": job,
        "recent": [j for j in exports.recent_for(request.user, RECENT + 1) if j.pk != job.pk],
        "keep_hours": exports.KEEP_HOURS,
        "nav_section": "ledger",
    }
    return render(request, "demands/export_job.html", context)


@login_required
@require_GET
def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    context = {
        "job": _job_for(request, pk),
        "keep_hours": exports.KEEP_HOURS,
    }
    return render(request, "demands/export_job.html#progress", context)


@login_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    if job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING, ExportJob.Status.FAILED):
        return redirect(job)  # its page says how it stands
    out = _open_file(job)
    if out is None:
        context = {
            "job": job,
            "keep_hours": exports.KEEP_HOURS,
            "nav_section": "ledger",
        }
        return render(request, "demands/export_gone.html", context, status=410)
    detail = _("下载问题台账导出：%(filter)s；共 %(n)d 行") % {
        "filter": job.description,
        "n": job.total_rows,
    }
    record(request, AuditEntry.Action.EXPORT, job, detail)
    return FileResponse(
        out, as_attachment=True, filename=job.download_name, content_type=ledger.XLSX
    )


def _open_file(job: ExportJob) -> BinaryIO | None:
    """The job's file, open; None once it has expired, or is gone from the folder (a
    database restored from a backup, a folder tidied by hand)."""
    if not job.is_downloadable(timezone.now()):
        return None
    try:
        return job.path.open("rb")
    except FileNotFoundError:
        return None
