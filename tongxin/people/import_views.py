"""Importing residents from .xlsx (导入居民): the upload page, the job page and its
progress partial, and the two spreadsheets offered for download."""

from __future__ import annotations

import io

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from openpyxl import Workbook

from tongxin.accounts.models import User
from tongxin.accounts.scope import scope_for
from tongxin.people import importer
from tongxin.people.models import ImportJob
from tongxin.people.tasks import start_import

XLSX = importer.XLSX_TYPE


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Excel 文件（.xlsx）"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError(_("只能上传 .xlsx 文件（Excel 2007 及以后的格式）。"))
        limit = settings.TONGXIN_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("文件太大（%(size)s），最大 %(limit)s。请分成几个文件上传。")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(limit)}
            )
        self.data_bytes = upload.read()
        try:
            importer.open_workbook(self.data_bytes).close()
        except importer.ImportFileError as e:
            raise forms.ValidationError(e.message) from None
        return upload


def _require_editor(user: User) -> None:
    if not scope_for(user).can_change:
        raise PermissionDenied


def get_job_for(user: User, pk: int) -> ImportJob:
    """One of the user's own jobs (any, for an administrator), else 404."""
    job = ImportJob.objects.visible_to(user).defer("content").filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    _require_editor(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job, created = start_import(request.user, upload.name, form.data_bytes)
        if not created:
            messages.warning(
                request, _("同一个文件刚刚已经上传过，没有重复导入。下面是那一次的结果。")
            )
        return redirect("imports:job", pk=job.pk)
    jobs = ImportJob.objects.filter(created_by=request.user).defer("content")[:10]
    return render(
        request,
        "people/import_start.html",
        {
            "form": form,
            "jobs": jobs,
            "columns": importer.COLUMNS,
            "care_tags": importer.care_tag_labels(),
            "nav_section": "residents",
            "max_bytes": settings.TONGXIN_IMPORT_MAX_BYTES,
        },
    )


@login_required
@require_GET
def download_template(request: HttpRequest) -> FileResponse:
    _require_editor(request.user)
    return FileResponse(
        io.BytesIO(importer.template_workbook()),
        as_attachment=True,
        filename="居民导入模板.xlsx",
        content_type=XLSX,
    )


@login_required
@require_GET
def job(request: HttpRequest, pk: int) -> HttpResponse:
    return render(
        request,
        "people/import_job.html",
        {
            "job": get_job_for(request.user, pk),
            "nav_section": "residents",
        },
    )


@login_required
@require_GET
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    return render(
        request,
        "people/import_job.html#progress",
        {
            "job": get_job_for(request.user, pk),
        },
    )


@login_required
@require_GET
def error_report(request: HttpRequest, pk: int) -> FileResponse:
    """The problems as a spreadsheet, to work through next to the original file."""
    job = get_job_for(request.user, pk)
    if not job.errors:
        raise Http404
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("问题"))
    sheet.append([_("行号"), _("列"), _("问题")])
    for error in job.errors:
        sheet.append([error["row"], error["column"], error["message"]])
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return FileResponse(
        out, as_attachment=True, filename=f"导入问题-{job.pk}.xlsx", content_type=XLSX
    )
