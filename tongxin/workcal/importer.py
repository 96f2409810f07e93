"""Reading a holiday schedule from a simple text file (导入节假日安排).

One day per line, comma-separated (a Chinese comma or a tab also do)::

    2027-01-01,holiday,元旦
    2027-02-07,workday,春节调休,备注可不填

The kind may be ``holiday``/``workday``, 休/班 or 放假/上班. Blank lines and lines
starting with ``#`` are skipped, and so is a header line starting with 日期 or date.
No database here: :func:`parse` returns every row or every problem, and the caller
writes only when there is no problem at all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tongxin.workcal.models import CalendarDay

MAX_BYTES = 256 * 1024
MAX_LINES = 2000

KINDS = {
    "holiday": CalendarDay.Kind.HOLIDAY,
    "休": CalendarDay.Kind.HOLIDAY,
    "放假": CalendarDay.Kind.HOLIDAY,
    "假": CalendarDay.Kind.HOLIDAY,
    "法定节假日": CalendarDay.Kind.HOLIDAY,
    "workday": CalendarDay.Kind.WORKDAY,
    "班": CalendarDay.Kind.WORKDAY,
    "上班": CalendarDay.Kind.WORKDAY,
    "补班": CalendarDay.Kind.WORKDAY,
    "调休上班": CalendarDay.Kind.WORKDAY,
}
_SEPARATOR = re.compile(r"\s*[,，\t]\s*")
_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_NAME_MAX = CalendarDay._meta.get_field("name").max_length
_NOTE_MAX = CalendarDay._meta.get_field("note").max_length


@dataclass(frozen=True)
class Row:
    line: int
    date: dt.date
    kind: str
    name: str
    note: str | None  # None: the line has no note, so an existing one is kept


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return _("第 %(line)d 行：%(message)s") % {"line": self.line, "message": self.message}


class FileError(Exception):
    """The file as a whole cannot be read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, which is what Excel on a Chinese
    Windows saves a CSV as."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileError(_("无法识别文件的文字编码，请另存为 UTF-8 编码的 CSV 或文本文件。"))


def parse(text: str) -> tuple[list[Row], list[LineError]]:
    """Every row of the file, or every problem of it, by line number (from 1)."""
    rows: list[Row] = []
    errors: list[LineError] = []
    first_line_of: dict[dt.date, int] = {}
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise FileError(_("文件行数太多（最多 %(max)d 行）。") % {"max": MAX_LINES})
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or _is_header(line):
            continue
        row, problem = _parse_line(number, line)
        if problem:
            errors.append(LineError(number, problem))
            continue
        assert row is not None
        if row.date in first_line_of:
            message = _("日期 %(date)s 与第 %(first)d 行重复。") % {
                "date": row.date.isoformat(),
                "first": first_line_of[row.date],
            }
            errors.append(LineError(number, message))
            continue
        first_line_of[row.date] = number
        rows.append(row)
    if not rows and not errors:
        raise FileError(_("文件里没有任何日期。每行一天，如：2027-01-01,holiday,元旦"))
    return rows, errors


def _is_header(line: str) -> bool:
    first = _SEPARATOR.split(line, maxsplit=1)[0].strip().lower()
    return first in {"日期", "date"}


def _parse_line(number: int, line: str) -> tuple[Row | None, str]:
    fields = _SEPARATOR.split(line, maxsplit=3)
    if len(fields) < 2 or not fields[1]:
        return None, _("缺少类型：每行应为“日期,类型,名称”，如 2027-01-01,holiday,元旦。")
    day = _parse_date(fields[0])
    if day is None:
        return None, _("日期“%(value)s”无效，应写成 2027-01-01 这样的格式。") % {"value": fields[0]}
    kind = KINDS.get(fields[1].lower())
    if kind is None:
        return None, _(
            "类型“%(value)s”无法识别，应为 holiday 或 workday（也可写 休/班、放假/上班）。"
        ) % {"value": fields[1]}
    name = fields[2] if len(fields) > 2 else ""
    note = fields[3] if len(fields) > 3 else None
    if len(name) > _NAME_MAX:
        return None, _("名称太长（最多 %(max)d 个字）。") % {"max": _NAME_MAX}
    if note is not None and len(note) > _NOTE_MAX:
        return None, _("备注太长（最多 %(max)d 个字）。") % {"max": _NOTE_MAX}
    return Row(number, day, kind, name, note), ""


def _parse_date(value: str) -> dt.date | None:
    match = _DATE.fullmatch(value.strip())
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
