"""Warnings for the home page: years whose holidays nobody has entered yet."""

from __future__ import annotations

from django.utils.translation import gettext as _

from tongxin.accounts.models import User
from tongxin.accounts.scope import scope_for
from tongxin.workcal.calendar import missing_years


def calendar_warnings(user: User) -> list[str]:
    """One text per year without holiday data, for administrators; [] for anyone else."""
    if not scope_for(user).everything:
        return []
    return [
        _(
            "%(year)d年的节假日安排尚未录入：截止时间暂按周末休息计算。"
            "请在「工作日历」中录入或导入国务院公布的安排。"
        )
        % {"year": year}
        for year in missing_years()
    ]
