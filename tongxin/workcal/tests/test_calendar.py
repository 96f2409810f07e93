"""Workdays and working hours. Expected values are worked out by hand from the State
Council's 2026 schedule (as chinese-calendar 1.11 has it): National Day and Mid-Autumn
are 10-01..10-07 off, with Sunday 09-20 and Saturday 10-10 worked."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction

from tongxin.workcal import calendar
from tongxin.workcal.calendar import (
    add_working_days,
    add_working_hours,
    is_workday,
    missing_years,
    working_time_between,
    year_has_data,
)
from tongxin.workcal.models import CalendarDay

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
HOLIDAY, WORKDAY = CalendarDay.Kind.HOLIDAY, CalendarDay.Kind.WORKDAY


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def entry(day: dt.date, kind: str, name: str = "") -> CalendarDay:
    return CalendarDay.objects.create(date=day, kind=kind, name=name)


# --- days ---------------------------------------------------------------------------
def test_it_knows_the_2026_national_day_schedule():
    assert not is_workday(dt.date(2026, 10, 1))  # Thursday, National Day
    assert not is_workday(dt.date(2026, 10, 7))  # Wednesday, in lieu
    assert is_workday(dt.date(2026, 10, 8))
    assert is_workday(dt.date(2026, 10, 10))  # Saturday, 调休上班
    assert is_workday(dt.date(2026, 9, 20))  # Sunday, 调休上班
    assert not is_workday(dt.date(2026, 10, 11))  # a plain Sunday


def test_deadline_spans_the_national_day_holiday_and_an_adjusted_saturday():
    start = at(2026, 9, 30, 10)  # Wednesday
    assert add_working_days(start, 1) == at(2026, 10, 8, 17, 30)
    assert add_working_days(start, 3) == at(2026, 10, 10, 17, 30)
    assert add_working_days(start, 4) == at(2026, 10, 12, 17, 30)


def test_friday_evening_plus_one_day_is_monday_closing_time():
    assert add_working_days(at(2026, 11, 20, 19), 1) == at(2026, 11, 23, 17, 30)


def test_tuesday_morning_plus_one_day_is_wednesday_closing_time():
    assert add_working_days(at(2026, 11, 24, 10), 1) == at(2026, 11, 25, 17, 30)


def test_the_day_of_submission_never_counts_even_before_opening():
    assert add_working_days(at(2026, 11, 24, 2), 1) == at(2026, 11, 25, 17, 30)


def test_zero_days_is_the_end_of_this_working_day_or_the_next():
    assert add_working_days(at(2026, 11, 24, 10), 0) == at(2026, 11, 24, 17, 30)
    assert add_working_days(at(2026, 11, 24, 18), 0) == at(2026, 11, 25, 17, 30)
    assert add_working_days(at(2026, 11, 21, 10), 0) == at(2026, 11, 23, 17, 30)  # Saturday


def test_a_deadline_is_returned_in_shanghai_time_whatever_zone_comes_in():
    utc_evening = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in Shanghai
    due = add_working_days(utc_evening, 1)
    assert due == at(2026, 11, 25, 17, 30)
    assert due.utcoffset() == dt.timedelta(hours=8)


def test_it_refuses_naive_datetimes_and_negative_amounts():
    with pytest.raises(ValueError, match="aware"):
        add_working_days(dt.datetime(2026, 11, 24, 10), 1)
    with pytest.raises(ValueError):
        add_working_days(at(2026, 11, 24, 10), -1)
    with pytest.raises(ValueError):
        add_working_hours(at(2026, 11, 24, 10), -0.5)


# --- hours --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2026, 11, 24, 9), 2, at(2026, 11, 24, 11)),  # inside the morning
        (at(2026, 11, 24, 11), 2, at(2026, 11, 24, 15)),  # across the lunch break
        (at(2026, 11, 24, 12, 30), 1, at(2026, 11, 24, 15)),  # starting in the break
        (at(2026, 11, 24, 17), 1, at(2026, 11, 25, 9)),  # overnight
        (at(2026, 11, 24, 7), 1, at(2026, 11, 24, 9, 30)),  # before opening
        (at(2026, 11, 24, 8, 30), 7, at(2026, 11, 24, 17, 30)),  # one full day
        (at(2026, 11, 20, 16, 30), 1, at(2026, 11, 20, 17, 30)),  # ends at closing
        (at(2026, 11, 20, 16, 30), 2, at(2026, 11, 23, 9, 30)),  # over the weekend
        (at(2026, 11, 21, 10), 1, at(2026, 11, 23, 9, 30)),  # from a Saturday
        (at(2026, 9, 30, 17), 1, at(2026, 10, 8, 9)),  # over National Day
        (at(2026, 9, 19, 10), 1, at(2026, 9, 20, 9, 30)),  # to a worked Sunday
        (at(2026, 11, 24, 9), 0.25, at(2026, 11, 24, 9, 15)),
    ],
)
def test_adding_working_hours(start, hours, expected):
    assert add_working_hours(start, hours) == expected


def test_zero_hours_is_the_start():
    assert add_working_hours(at(2026, 11, 21, 3), 0) == at(2026, 11, 21, 3)


def test_working_time_between():
    assert working_time_between(at(2026, 11, 24, 8, 30), at(2026, 11, 25, 8, 30)) == dt.timedelta(
        hours=7
    )
    assert working_time_between(at(2026, 11, 20, 16, 30), at(2026, 11, 23, 9, 30)) == dt.timedelta(
        hours=2
    )
    assert working_time_between(at(2026, 11, 21, 9), at(2026, 11, 22, 18)) == dt.timedelta()
    assert working_time_between(at(2026, 11, 24, 11), at(2026, 11, 24, 14, 30)) == dt.timedelta(
        hours=1, minutes=30
    )


def test_working_time_between_is_negative_backwards():
    assert working_time_between(at(2026, 11, 25, 8, 30), at(2026, 11, 24, 8, 30)) == -dt.timedelta(
        hours=7
    )


def test_working_hours_come_from_settings(settings):
    settings.TONGXIN_WORKING_HOURS = [("09:00", "12:00"), ("13:00", "18:00")]
    assert add_working_days(at(2026, 11, 24, 10), 1) == at(2026, 11, 25, 18)
    assert add_working_hours(at(2026, 11, 24, 11), 2) == at(2026, 11, 24, 14)
    assert calendar.working_day_length() == dt.timedelta(hours=8)


def test_the_default_day_has_seven_working_hours():
    assert calendar.working_day_length() == dt.timedelta(hours=7)


# --- years without data -------------------------------------------------------------
def test_a_year_without_data_falls_back_to_weekends():
    assert not year_has_data(2027)
    assert is_workday(dt.date(2027, 1, 1))  # a Friday; really New Year's Day, unknown yet
    assert not is_workday(dt.date(2027, 1, 2))  # Saturday
    assert add_working_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 1, 17, 30)
    assert add_working_days(at(2026, 12, 31, 10), 2) == at(2027, 1, 4, 17, 30)
    assert add_working_hours(at(2027, 1, 1, 17), 1) == at(2027, 1, 4, 9)


@time_machine.travel(at(2026, 11, 25, 9), tick=False)
def test_late_2026_misses_2027():
    assert year_has_data(2026)
    assert missing_years() == [2027]
    assert missing_years(dt.date(2026, 3, 1)) == [2027]
    assert missing_years(dt.date(2025, 6, 1)) == []


def test_a_year_the_library_has_never_heard_of_does_not_raise():
    assert not year_has_data(1999)
    assert is_workday(dt.date(1999, 10, 1))  # a Friday: plain weekday rule
    assert missing_years(dt.date(2031, 5, 1)) == [2031, 2032]


# --- the table ----------------------------------------------------------------------
def test_a_table_entry_is_honoured_and_makes_the_year_known():
    entry(dt.date(2027, 1, 1), HOLIDAY, "元旦")
    assert not is_workday(dt.date(2027, 1, 1))
    assert year_has_data(2027)
    assert missing_years(dt.date(2026, 11, 25)) == []
    assert add_working_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 4, 17, 30)


def test_a_workday_entry_on_a_saturday_makes_it_worked():
    entry(dt.date(2027, 2, 6), WORKDAY, "春节调休")
    assert is_workday(dt.date(2027, 2, 6))
    assert add_working_days(at(2027, 2, 5, 10), 1) == at(2027, 2, 6, 17, 30)


def test_the_table_overrides_chinese_calendar():
    entry(dt.date(2026, 10, 10), HOLIDAY, "更正")  # the library says worked
    entry(dt.date(2026, 10, 5), WORKDAY, "更正")  # the library says off
    assert not is_workday(dt.date(2026, 10, 10))
    assert is_workday(dt.date(2026, 10, 5))
    assert add_working_days(at(2026, 9, 30, 10), 1) == at(2026, 10, 5, 17, 30)
    assert add_working_days(at(2026, 9, 30, 10), 4) == at(2026, 10, 12, 17, 30)


def _holidays(first: dt.date, last: dt.date) -> None:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    CalendarDay.objects.bulk_create(CalendarDay(date=d, kind=HOLIDAY) for d in days)


def test_a_whole_year_of_holidays_only_pushes_the_deadline_on():
    _holidays(dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    # 2028 has no data: its 200th weekday is Friday 2028-10-06.
    assert add_working_days(at(2026, 12, 31, 10), 200) == at(2028, 10, 6, 17, 30)


def test_it_gives_up_with_a_clear_error_rather_than_scanning_for_ever():
    _holidays(dt.date(2027, 1, 1), dt.date(2030, 1, 31))
    with pytest.raises(ValueError, match="within 1098 days"):
        add_working_days(at(2026, 12, 31, 10), 1)
    with pytest.raises(ValueError, match="within 1098 days"):
        add_working_hours(at(2026, 12, 31, 18), 1)


# --- queries ------------------------------------------------------------------------
def test_a_deadline_reads_the_table_once(django_assert_max_num_queries):
    entry(dt.date(2027, 1, 1), HOLIDAY, "元旦")
    with django_assert_max_num_queries(1):
        add_working_days(at(2026, 12, 1, 10), 30)
    with django_assert_max_num_queries(1):
        add_working_hours(at(2026, 12, 1, 10), 30 * 7)
    with django_assert_max_num_queries(1):
        working_time_between(at(2026, 1, 1), at(2027, 12, 31))


def test_inside_a_transaction_the_table_is_read_fresh(django_assert_num_queries):
    # A bulk write sends no per-row signal; the queryset drops the transaction's table.
    assert is_workday(dt.date(2027, 1, 1))
    CalendarDay.objects.bulk_create([CalendarDay(date=dt.date(2027, 1, 1), kind=HOLIDAY)])
    with django_assert_num_queries(1):
        assert not is_workday(dt.date(2027, 1, 1))


def test_a_transaction_reads_the_table_once(django_assert_num_queries):
    # A deadline and its warning time (several functions) in one intake: one read.
    with transaction.atomic(), django_assert_num_queries(1):
        add_working_days(at(2026, 12, 1, 10), 3)
        working_time_between(at(2026, 12, 1, 10), at(2026, 12, 4, 17, 30))
        add_working_hours(at(2026, 12, 1, 10), 15)
        assert is_workday(dt.date(2027, 1, 1))


def test_a_write_in_the_transaction_shows_at_once(django_assert_num_queries):
    with transaction.atomic():
        assert is_workday(dt.date(2027, 1, 1))
        day = entry(dt.date(2027, 1, 1), HOLIDAY, "元旦")
        with django_assert_num_queries(1):
            assert not is_workday(dt.date(2027, 1, 1))
        CalendarDay.objects.filter(pk=day.pk).update(kind=WORKDAY)
        assert is_workday(dt.date(2027, 1, 1))


def test_a_rolled_back_savepoint_takes_its_table_along(django_assert_num_queries):
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            assert is_workday(dt.date(2027, 1, 1))
            raise RuntimeError
        with django_assert_num_queries(1):
            assert is_workday(dt.date(2027, 1, 1))


@pytest.mark.django_db(transaction=True)
def test_the_next_transaction_reads_the_table_again(django_assert_num_queries):
    # Another process's write sends no signal here (raw SQL stands in for it): a
    # committed or rolled-back transaction's table is never used again.
    with transaction.atomic():
        assert is_workday(dt.date(2027, 1, 1))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO workcal_calendarday (date, kind, name, note) VALUES (%s, %s, '', '')",
            [dt.date(2027, 1, 1), HOLIDAY],
        )
    with transaction.atomic(), django_assert_num_queries(1):
        assert not is_workday(dt.date(2027, 1, 1))
        assert not is_workday(dt.date(2027, 1, 1))
    with pytest.raises(RuntimeError), transaction.atomic():
        assert not is_workday(dt.date(2027, 1, 1))
        raise RuntimeError
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workcal_calendarday")
    with transaction.atomic(), django_assert_num_queries(1):
        assert is_workday(dt.date(2027, 1, 1))


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_table_is_cached_until_it_changes(
    django_assert_num_queries,
):
    with django_assert_num_queries(1):
        assert is_workday(dt.date(2027, 1, 1))
    with django_assert_num_queries(0):
        assert is_workday(dt.date(2027, 1, 1))
        add_working_days(at(2026, 12, 1, 10), 30)
    day = entry(dt.date(2027, 1, 1), HOLIDAY, "元旦")
    assert not is_workday(dt.date(2027, 1, 1))
    day.delete()
    assert is_workday(dt.date(2027, 1, 1))
