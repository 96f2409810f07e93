import datetime as dt

import pytest

from tongxin.workcal.importer import FileError, decode, parse
from tongxin.workcal.models import CalendarDay

HOLIDAY, WORKDAY = CalendarDay.Kind.HOLIDAY, CalendarDay.Kind.WORKDAY


def test_it_reads_english_and_chinese_kind_words():
    rows, errors = parse(
        "2027-01-01,holiday,元旦\n"
        "2027-02-07,workday,春节调休\n"
        "2027-02-08,休,春节\n"
        "2027-02-20，班，春节调休\n"
        "2027/05/01,放假,劳动节,五一\n"
        "2027-09-26\t上班\n"
    )
    assert errors == []
    assert [(r.date, r.kind) for r in rows] == [
        (dt.date(2027, 1, 1), HOLIDAY),
        (dt.date(2027, 2, 7), WORKDAY),
        (dt.date(2027, 2, 8), HOLIDAY),
        (dt.date(2027, 2, 20), WORKDAY),
        (dt.date(2027, 5, 1), HOLIDAY),
        (dt.date(2027, 9, 26), WORKDAY),
    ]
    assert rows[4].name == "劳动节" and rows[4].note == "五一"
    assert rows[0].note is None and rows[5].name == ""


def test_it_skips_blank_lines_comments_and_a_header():
    rows, errors = parse("# 2027年安排\n日期,类型,名称\n\n2027-01-01,holiday,元旦\n")
    assert errors == [] and len(rows) == 1 and rows[0].line == 4


def test_it_reports_every_bad_line_with_its_number():
    _, errors = parse(
        "2027-01-01,holiday,元旦\n"
        "2027-13-01,holiday,坏日期\n"
        "2027-01-02,vacation,坏类型\n"
        "2027-01-03\n"
        "2027-01-01,休,重复\n"
    )
    assert [e.line for e in errors] == [2, 3, 4, 5]
    text = [str(e) for e in errors]
    assert text[0].startswith("第 2 行：") and "2027-13-01" in text[0]
    assert "vacation" in text[1]
    assert "缺少类型" in text[2]
    assert "与第 1 行重复" in text[3]


def test_an_empty_file_is_an_error():
    with pytest.raises(FileError):
        parse("\n# nothing\n")


def test_it_decodes_utf8_with_a_bom_and_gbk():
    assert decode("\ufeff2027-01-01,休,元旦".encode()) == "2027-01-01,休,元旦"
    assert decode("2027-01-01,休,元旦".encode("gbk")) == "2027-01-01,休,元旦"
