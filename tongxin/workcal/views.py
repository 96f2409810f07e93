"""The working calendar page (工作日历), for administrators: which years have holiday
data, the table's entries of a year, adding, changing, deleting and importing them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.db.models.functions import ExtractYear
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongxin.accounts.models import User
from tongxin.accounts.scope import scope_for
from tongxin.workcal import actions, calendar
from tongxin.workcal.forms import CalendarDayForm, ImportForm
from tongxin.workcal.models import CalendarDay

EXAMPLE_FILE = """\
# 每行一天：日期,类型,名称[,备注]。类型写 holiday/workday，或 休/班、放假/上班。
日期,类型,名称,备注
2027-01-01,holiday,元旦
2027-02-07,workday,春节调休,周日上班
"""


@dataclass(frozen=True)
class YearStatus:
    year: int
    library: bool
    entries: int

    @property
    def known(self) -> bool:
        return self.library or self.entries > 0


def _require_admin(user: User) -> None:
    if not scope_for(user).everything:
        raise PermissionDenied


def get_day_for(user: User, pk: int) -> CalendarDay:
    """One table entry, for an administrator; others get 403, a wrong pk 404."""
    _require_admin(user)
    day = CalendarDay.objects.filter(pk=pk).first()
    if day is None:
        raise Http404
    return day


def _year_url(year: int) -> str:
    return f"{reverse('workcal:index')}?year={year}"


def _chosen_year(request: HttpRequest) -> int:
    raw = request.GET.get("year", "")
    if raw.isdigit() and 1900 <= int(raw) <= 2200:
        return int(raw)
    return timezone.localdate().year


def _year_statuses(chosen: int) -> list[YearStatus]:
    this_year = timezone.localdate().year
    counts = dict(
        CalendarDay.objects.annotate(year=ExtractYear("date"))
        .values("year")
        .annotate(n=Count("id"))
        .values_list("year", "n")
    )
    years = sorted({this_year - 1, this_year, this_year + 1, chosen, *counts})
    return [YearStatus(y, calendar.library_knows(y), counts.get(y, 0)) for y in years]


def _render_index(
    request: HttpRequest,
    year: int,
    form: CalendarDayForm | None = None,
    import_form: ImportForm | None = None,
) -> HttpResponse:
    statuses = _year_statuses(year)
    context = {
        "year": year,
        "status": next(s for s in statuses if s.year == year),
        "statuses": statuses,
        "entries": CalendarDay.objects.in_year(year),
        "library": calendar.library_adjustments(year),
        "missing": calendar.missing_years(),
        "form": form or CalendarDayForm(),
        "import_form": import_form or ImportForm(),
        "nav_section": "calendar",
    }
    return render(request, "workcal/index.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    form = CalendarDayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        day = actions.save_day(request, form.save(commit=False))
        messages.success(request, _("已添加：%(day)s。") % {"day": day})
        return redirect(_year_url(day.date.year))
    return _render_index(request, _chosen_year(request), form=form)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    day = get_day_for(request.user, pk)
    form = CalendarDayForm(request.POST or None, instance=day)
    if request.method == "POST" and form.is_valid():
        day = actions.save_day(request, form.save(commit=False))
        messages.success(request, _("已保存：%(day)s。") % {"day": day})
        return redirect(_year_url(day.date.year))
    return render(
        request, "workcal/edit.html", {"form": form, "day": day, "nav_section": "calendar"}
    )


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    day = get_day_for(request.user, pk)
    year, label = day.date.year, str(day)
    actions.delete_day(request, day)
    messages.success(request, _("已删除：%(day)s。") % {"day": label})
    return redirect(_year_url(year))


@login_required
@require_POST
def import_file(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_index(request, _chosen_year(request), import_form=form)
    result = actions.import_rows(request, form.rows)
    messages.success(
        request,
        _("导入完成：新增 %(added)d 条，更新 %(updated)d 条，%(unchanged)d 条没有变化。")
        % {"added": result.added, "updated": result.updated, "unchanged": result.unchanged},
    )
    return redirect(_year_url(form.rows[0].date.year))


@login_required
@require_GET
def example(request: HttpRequest) -> HttpResponse:
    _require_admin(request.user)
    response = HttpResponse(EXAMPLE_FILE, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="calendar-example.csv"'
    return response
