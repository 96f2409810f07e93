"""Changes to the calendar table: each one transaction, each audited."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest

from tongxin.audit.models import AuditEntry, record
from tongxin.workcal.importer import Row
from tongxin.workcal.models import CalendarDay


@transaction.atomic
def save_day(request: HttpRequest, day: CalendarDay) -> CalendarDay:
    """Add or change one entry (``day`` is a form's unsaved instance)."""
    created = day.pk is None
    day.save()
    if created:
        record(request, AuditEntry.Action.CREATE, day, f"工作日历新增 {day}")
    else:
        record(request, AuditEntry.Action.CHANGE, day, f"工作日历修改为 {day}")
    return day


@transaction.atomic
def delete_day(request: HttpRequest, day: CalendarDay) -> None:
    record(request, AuditEntry.Action.CHANGE, day, f"工作日历删除 {day}")
    day.delete()


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


@transaction.atomic
def import_rows(request: HttpRequest, rows: list[Row]) -> ImportResult:
    """Write checked rows: new dates are added, known ones take the file's kind and
    name (and note, when the line has one). Only real changes are audited."""
    existing = {
        d.date: d
        for d in CalendarDay.objects.select_for_update().filter(date__in=[r.date for r in rows])
    }
    added = updated = 0
    for row in rows:
        day = existing.get(row.date)
        if day is None:
            day = CalendarDay.objects.create(
                date=row.date, kind=row.kind, name=row.name, note=row.note or ""
            )
            record(request, AuditEntry.Action.IMPORT, day, f"工作日历导入新增 {day}")
            added += 1
            continue
        note = day.note if row.note is None else row.note
        if (day.kind, day.name, day.note) == (row.kind, row.name, note):
            continue
        day.kind, day.name, day.note = row.kind, row.name, note
        day.save(update_fields=["kind", "name", "note"])
        record(request, AuditEntry.Action.IMPORT, day, f"工作日历导入更新为 {day}")
        updated += 1
    return ImportResult(added, updated, len(rows) - added - updated)
