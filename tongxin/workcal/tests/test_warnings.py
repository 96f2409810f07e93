import datetime as dt
from zoneinfo import ZoneInfo

import time_machine

from tongxin.workcal.models import CalendarDay
from tongxin.workcal.warnings import calendar_warnings

LATE_2026 = dt.datetime(2026, 11, 25, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@time_machine.travel(LATE_2026, tick=False)
def test_it_warns_administrators_about_next_year(world):
    (text,) = calendar_warnings(world.admin)
    assert text.startswith("2027年的节假日安排尚未录入")
    assert "工作日历" in text


@time_machine.travel(LATE_2026, tick=False)
def test_it_warns_nobody_else(world):
    for name, user in world.users().items():
        if name != "admin":
            assert calendar_warnings(user) == [], name


@time_machine.travel(LATE_2026, tick=False)
def test_the_warning_goes_once_the_year_is_entered(world):
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=CalendarDay.Kind.HOLIDAY)
    assert calendar_warnings(world.admin) == []
