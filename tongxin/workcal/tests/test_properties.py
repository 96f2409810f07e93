"""Properties of working time over 2025–2028: years chinese-calendar knows (2025,
2026) and years it does not (2027, 2028), with an empty table."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tongxin.workcal.calendar import (
    add_working_days,
    add_working_hours,
    is_workday,
    working_time_between,
)

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
CLOSING = dt.time(17, 30)
WORKING = ((dt.time(8, 30), dt.time(12)), (dt.time(14), dt.time(17, 30)))
# The db fixture is function-scoped; examples only read, so sharing it is safe.
db_settings = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=150
)

starts = st.builds(
    lambda day, minute: dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=SH),
    st.dates(dt.date(2025, 1, 1), dt.date(2028, 6, 30)),
    st.integers(0, 24 * 60 - 1),
)


@db_settings
@given(start=starts, days=st.integers(1, 60))
def test_a_deadline_is_the_closing_time_of_the_nth_workday_after_the_start(start, days):
    due = add_working_days(start, days)
    assert due > start
    assert (due.time(), due.utcoffset()) == (CLOSING, dt.timedelta(hours=8))
    assert is_workday(due.date())
    span = (due.date() - start.date()).days
    after_start = (start.date() + dt.timedelta(days=i) for i in range(1, span + 1))
    assert sum(is_workday(d) for d in after_start) == days


@db_settings
@given(start=starts, minutes=st.integers(1, 7 * 60 * 40))
def test_the_working_time_added_is_the_working_time_between(start, minutes):
    end = add_working_hours(start, minutes / 60)
    assert end > start
    assert working_time_between(start, end) == dt.timedelta(minutes=minutes)
    assert is_workday(end.date())
    assert any(opens < end.time() <= closes for opens, closes in WORKING)


@db_settings
@given(a=starts, b=starts)
def test_working_time_between_is_antisymmetric_and_never_more_than_elapsed(a, b):
    assert working_time_between(a, b) == -working_time_between(b, a)
    assert abs(working_time_between(a, b)) <= abs(b - a)
