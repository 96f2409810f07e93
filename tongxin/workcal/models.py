"""The working calendar's adjustments (日历调整): public holidays and worked weekend
days the administrators enter for the years chinese-calendar does not know yet."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class CalendarDayQuerySet(models.QuerySet):
    def in_year(self, year: int) -> CalendarDayQuerySet:
        return self.filter(date__gte=dt.date(year, 1, 1), date__lte=dt.date(year, 12, 31))

    # The writes that send no per-row signal also drop the calendar's kept table
    # (calendar.py; save and delete reach it through the signals in apps.py).
    def bulk_create(self, *args, **kwargs):
        try:
            return super().bulk_create(*args, **kwargs)
        finally:
            _changed()

    def bulk_update(self, *args, **kwargs):
        try:
            return super().bulk_update(*args, **kwargs)
        finally:
            _changed()

    def update(self, **kwargs) -> int:
        try:
            return super().update(**kwargs)
        finally:
            _changed()


def _changed() -> None:
    from tongxin.workcal import calendar

    calendar.clear_cache()


class CalendarDay(models.Model):
    """One day that differs from the plain week (日历调整): a public holiday (法定节假日)
    on a day that would otherwise be worked, or a weekend day that is worked to make up
    for one (调休上班). An entry here wins over chinese-calendar's data."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日")
        WORKDAY = "workday", _("调休上班")

    date = models.DateField(
        _("日期"),
        unique=True,
        error_messages={"unique": _("这一天已有记录：请修改已有的那一条，不要重复录入。")},
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True, help_text=_("如 春节、国庆节"))
    note = models.CharField(_("备注"), max_length=200, blank=True)

    objects = CalendarDayQuerySet.as_manager()

    class Meta:
        verbose_name = _("日历调整")
        verbose_name_plural = _("日历调整")
        ordering = ["date"]

    def __str__(self) -> str:
        label = f"{self.date:%Y-%m-%d} {self.get_kind_display()}"
        return f"{label} {self.name}" if self.name else label

    @property
    def is_day_off(self) -> bool:
        return self.kind == self.Kind.HOLIDAY
