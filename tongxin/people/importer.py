"""Importing residents from a spreadsheet (.xlsx): read it, check every row, then write.

No HTTP here: the task (:mod:`tongxin.people.tasks`), the views and the benchmark
share these functions. All or nothing: :func:`validate` reports every problem of every
row, and :func:`write_rows` is only called when there is none, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from stdnum.cn import ric

from tongxin.accounts.models import User
from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level
from tongxin.core.treepaths import bulk_add_children
from tongxin.people import counts
from tongxin.people.idnumbers import clean_id_number, clean_phone
from tongxin.people.models import CareTag, Gender, Resident, pinyin_keys

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Progress = Callable[[int], None]
PROGRESS_EVERY = 500
_CHUNK = 500  # IDs per IN (...) query, well under SQLite's variable limit


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not an .xlsx, no data, no header)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RowsRejected(Exception):
    """Raised inside the write transaction to roll it back, with the rows to blame."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} rows rejected")
        self.errors = errors


# --- columns ------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    help: str = ""


# Headers are Chinese in every language: they are what the file says, not UI text.
COLUMNS = [
    Column("name", "姓名", True, gettext_lazy("必填")),
    Column("gender", "性别", help=gettext_lazy("男 或 女；可不填，有身份证号时按身份证号判断")),
    Column(
        "id_number",
        "身份证号",
        help=gettext_lazy("18位，须有效且不能与已登记的重复；请把该列设为文本格式"),
    ),
    Column("phone", "电话", help=gettext_lazy("手机11位，座机如 0813-1234567")),
    Column("community", "社区", True, gettext_lazy("必填，须在您的管辖范围内")),
    Column("estate", "小区", True, gettext_lazy("必填，须已在区域网格中建好")),
    Column("zone", "片区/网格", help=gettext_lazy("可不填；填了就在该片区/网格下找楼栋")),
    Column("building", "楼栋", True, gettext_lazy("必填，须已在区域网格中建好")),
    Column("unit", "单元", True, gettext_lazy("必填，如 1")),
    Column("room", "房号", True, gettext_lazy("必填，如 101；没有的户会自动建立")),
    Column("relation", "与户主关系", help=gettext_lazy("如 户主、配偶、子女")),
    Column("tags", "关爱标签", help=gettext_lazy("可填多个，用顿号、逗号或分号隔开")),
    Column("note", "备注", help=gettext_lazy("可不填")),
]
_BY_KEY = {c.key: c for c in COLUMNS}
_ALIASES = {
    "片区": "zone",
    "网格": "zone",
    "片区网格": "zone",
    "片区(网格)": "zone",
    "手机": "phone",
    "手机号": "phone",
    "联系电话": "phone",
    "身份证号码": "id_number",
}
_HEADER_MAP = {c.header: c.key for c in COLUMNS} | _ALIASES
_KEY_ORDER = {c.key: i for i, c in enumerate(COLUMNS)}
_MAX_LENGTH = {"name": 50, "unit": 20, "room": 20, "relation": 20}
_TAG_SPLIT = re.compile(r"[、,，;；]+")


def _normalise_header(value: object) -> str:
    text = re.sub(r"\s+", "", str(value or ""))
    text = text.replace("（", "(").replace("）", ")").rstrip("*＊")
    return text


# --- reading ------------------------------------------------------------------------
@dataclass
class Sheet:
    """The data of the first worksheet: which column holds what, and the rows."""

    header_row: int
    headers: dict[str, str]  # key -> the header as the file spells it
    positions: dict[str, int]  # key -> column index
    missing: list[str]  # required headers not found
    duplicated: list[str]
    rows: list[tuple[int, tuple]]  # (Excel row number, values), blank rows dropped

    def value(self, values: tuple, key: str) -> object:
        i = self.positions.get(key)
        return values[i] if i is not None and i < len(values) else None


def open_workbook(data: bytes):
    """The workbook, read only; a Chinese error for anything that is not an .xlsx."""
    not_xlsx = _(
        "文件无法读取：请上传 Excel 的 .xlsx 文件"
        "（如是 .xls 或 .csv，请在 Excel 中“另存为”.xlsx）。"
    )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportFileError(not_xlsx)
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a bad file; all mean the same here
        raise ImportFileError(not_xlsx) from None


def read_sheet(data: bytes) -> Sheet:
    workbook = open_workbook(data)
    try:
        if not workbook.worksheets:
            raise ImportFileError(_("文件里没有工作表。"))
        worksheet = workbook.worksheets[0]
        # Some programs write a wrong <dimension>, which would cut columns off: read
        # what is there instead (gaps still come back as empty rows, so numbers hold).
        worksheet.reset_dimensions()
        try:
            rows = [
                (number, values)
                for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1)
            ]
        except Exception:
            raise ImportFileError(_("文件内容已损坏，无法读取。")) from None
    finally:
        workbook.close()
    return _sheet_from_rows(rows)


def _sheet_from_rows(rows: list[tuple[int, tuple]]) -> Sheet:
    nonblank = [(n, v) for n, v in rows if not _is_blank(v)]
    if not nonblank:
        raise ImportFileError(_("文件是空的：第一个工作表里没有内容。"))
    # The header row is the first with 姓名 in it, so a title line above it is fine.
    header_row, header_values = next(
        ((n, v) for n, v in nonblank[:10] if "姓名" in {_normalise_header(c) for c in v}),
        nonblank[0],
    )
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    duplicated: list[str] = []
    for i, cell in enumerate(header_values):
        key = _HEADER_MAP.get(_normalise_header(cell))
        if key is None:
            continue  # an extra column (序号， 籍贯…) is no error
        if key in positions:
            duplicated.append(str(cell).strip())
            continue
        headers[key] = str(cell).strip()
        positions[key] = i
    missing = [c.header for c in COLUMNS if c.required and c.key not in positions]
    # Blank means blank in the columns read: a row with only its 序号 filled is skipped.
    data = [
        (n, v)
        for n, v in nonblank
        if n > header_row and not _is_blank(v[i] for i in positions.values() if i < len(v))
    ]
    return Sheet(header_row, headers, positions, missing, duplicated, data)


def _is_blank(values: Iterable[object]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _text(value: object) -> str:
    """A cell as the text a person typed: 101 not 101.0, dates as 2024-01-31."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# --- validating -------------------------------------------------------------------
@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ParsedRow:
    """A valid row: the resident (unsaved, search keys set, no household yet) and the
    address of the household it goes to."""

    row: int
    resident: Resident
    building: Area
    unit: str
    room: str


@dataclass
class Validation:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


def care_tag_values() -> dict[str, str]:
    """Label -> value, in Chinese (what the template says) and the current language."""
    labels: dict[str, str] = {}
    for language in ("zh-hans", translation.get_language() or "zh-hans"):
        with translation.override(language):
            labels.update({str(label): value for value, label in CareTag.choices})
    return labels


def care_tag_labels() -> list[str]:
    with translation.override("zh-hans"):
        return [str(label) for _value, label in CareTag.choices]


class AddressBook:
    """Finds 社区 > 小区 > (片区) > 楼栋 by name for one user's scope, with a cache, so a
    file of ten thousand rows in a few buildings costs a few dozen queries."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._cache: dict[tuple, list[Area]] = {}
        reachable = scope.areas(Area.objects.filter(level=Level.COMMUNITY))
        # A grid worker's own community sits above their area: reachable by name, and
        # the building is checked against the scope instead.
        above = []
        if scope.area is not None and scope.area.depth > 1:
            prefixes = [scope.area.path[: i * Area.steplen] for i in range(1, scope.area.depth)]
            above = Area.objects.filter(path__in=prefixes, level=Level.COMMUNITY)
        self.communities: dict[str, list[Area]] = defaultdict(list)
        for community in [*reachable, *above]:
            self.communities[community.name].append(community)

    def _below(self, parent: Area, level: int, name: str) -> list[Area]:
        key = (parent.pk, level, name)
        if key not in self._cache:
            self._cache[key] = list(
                Area.objects.filter(path__startswith=parent.path, level=level, name=name)
            )
        return self._cache[key]

    def community(self, name: str) -> Area | str:
        found = self.communities.get(name, [])
        if len(found) == 1:
            return found[0]
        if found:
            return _("有多个名为「%(name)s」的社区，请联系管理员。") % {"name": name}
        key = ("community-exists", name)
        if key not in self._cache:
            self._cache[key] = list(Area.objects.filter(level=Level.COMMUNITY, name=name)[:1])
        if self._cache[key]:
            return _("「%(name)s」不在您的管辖范围内") % {"name": name}
        return _("找不到社区「%(name)s」") % {"name": name}

    def one_below(self, parent: Area, level: int, name: str) -> Area | str:
        found = self._below(parent, level, name)
        if len(found) == 1:
            return found[0]
        names = {"parent": parent.name, "name": name}
        if found and level == Level.BUILDING:
            return _("在「%(parent)s」下有多个「%(name)s」，请填写片区/网格列") % names
        if found:
            return _("在「%(parent)s」下有多个「%(name)s」，请联系管理员") % names
        return _("在「%(parent)s」下找不到「%(name)s」") % names


class _RowChecker:
    """Checks one row at a time, collecting every error instead of stopping at one."""

    def __init__(self, sheet: Sheet, user: User) -> None:
        self.sheet = sheet
        self.scope = scope_for(user)
        self.addresses = AddressBook(self.scope)
        self.tags = care_tag_values()
        self.id_rows: dict[str, int] = {}
        self.errors: list[RowError] = []

    def error(self, row: int, key: str, message: str) -> None:
        header = self.sheet.headers.get(key, _BY_KEY[key].header)
        self.errors.append(RowError(row, header, message))

    def check(self, row: int, values: tuple) -> ParsedRow | None:
        cells = {c.key: self.sheet.value(values, c.key) for c in COLUMNS}
        text = {key: _text(value) for key, value in cells.items()}
        before = len(self.errors)
        if (text["name"], text["id_number"]) == (EXAMPLE["name"], EXAMPLE["id_number"]):
            self.error(row, "name", _("这是模板里的示例行，请删除后再上传"))
            return None
        for column in COLUMNS:
            if column.required and not text[column.key]:
                self.error(row, column.key, _("必填，不能为空"))
        for key, limit in _MAX_LENGTH.items():
            if len(text[key]) > limit:
                self.error(row, key, _("太长了（最多 %(n)d 个字）") % {"n": limit})
        id_number, birth_date, id_gender = self.id_number(
            row, cells["id_number"], text["id_number"]
        )
        gender = self.gender(row, text["gender"], id_gender)
        phone = self.phone(row, text["phone"])
        tags = self.care_tags(row, text["tags"])
        building = self.building(row, text)
        if len(self.errors) > before:
            return None
        resident = Resident(
            name=text["name"],
            gender=gender,
            birth_date=birth_date,
            id_number=id_number,
            phone=phone,
            relation=text["relation"],
            note=text["note"],
        )
        resident.tag_list = tags
        resident.name_pinyin, resident.name_initials = pinyin_keys(resident.name)
        resident.phone_tail = phone[-4:]
        return ParsedRow(row, resident, building, _unit(text["unit"]), _room(text["room"]))

    def id_number(self, row: int, raw: object, text: str) -> tuple[str | None, dt.date | None, str]:
        if not text:
            return None, None, ""
        if isinstance(raw, float) or (isinstance(raw, int) and len(text) != 18):
            # Excel kept it as a number: the last digits are already lost.
            self.error(
                row,
                "id_number",
                _("身份证号被存成了数字，末几位已丢失；请把该列设为文本格式后重新填写"),
            )
            return None, None, ""
        try:
            number = clean_id_number(text)
        except ValidationError as e:
            self.error(row, "id_number", e.messages[0])
            return None, None, ""
        if number in self.id_rows:
            first = self.id_rows[number]
            self.error(row, "id_number", _("与第 %(row)d 行的身份证号重复") % {"row": first})
            return None, None, ""
        self.id_rows[number] = row
        gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
        return number, ric.get_birth_date(number), gender

    def gender(self, row: int, text: str, from_id: str) -> str:
        if not text:
            return from_id
        genders = {"男": Gender.MALE, "女": Gender.FEMALE}
        if text not in genders:
            self.error(row, "gender", _("只能填「男」或「女」"))
            return ""
        if from_id and genders[text] != from_id:
            self.error(row, "gender", _("与身份证号不符"))
        return genders[text]

    def phone(self, row: int, text: str) -> str:
        if not text:
            return ""
        try:
            return clean_phone(text)
        except ValidationError as e:
            self.error(row, "phone", e.messages[0])
            return ""

    def care_tags(self, row: int, text: str) -> list[str]:
        values = []
        for label in filter(None, (t.strip() for t in _TAG_SPLIT.split(text))):
            if label in self.tags:
                values.append(self.tags[label])
            else:
                self.error(
                    row,
                    "tags",
                    _("没有「%(label)s」这个关爱标签，可选：%(all)s")
                    % {
                        "label": label,
                        "all": "、".join(care_tag_labels()),
                    },
                )
        return values

    def building(self, row: int, text: dict[str, str]) -> Area | None:
        if not text["community"]:
            return None
        community = self.addresses.community(text["community"])
        if isinstance(community, str):
            self.error(row, "community", community)
            return None
        if not text["estate"]:
            return None
        estate = self.addresses.one_below(community, Level.ESTATE, text["estate"])
        if isinstance(estate, str):
            self.error(row, "estate", estate)
            return None
        parent = estate
        if text["zone"]:
            parent = self.addresses.one_below(estate, Level.ZONE, text["zone"])
            if isinstance(parent, str):
                self.error(row, "zone", parent)
                return None
        if not text["building"]:
            return None
        building = self.addresses.one_below(parent, Level.BUILDING, text["building"])
        if isinstance(building, str):
            self.error(row, "building", building)
            return None
        if not self.scope.may_change_area(building):
            message = _("「%(name)s」不在您的管辖范围内") % {"name": building.name}
            self.error(row, "building", message)
            return None
        return building


def _unit(text: str) -> str:
    return text.removesuffix("单元")


def _room(text: str) -> str:
    return text.removesuffix("室").removesuffix("号")


def validate(sheet: Sheet, user: User, progress: Progress | None = None) -> Validation:
    """Check every row of the sheet for ``user``; touches nothing."""
    if sheet.missing or sheet.duplicated:
        problems = []
        if sheet.missing:
            problems.append(_("缺少必填列：%(cols)s") % {"cols": "、".join(sheet.missing)})
        if sheet.duplicated:
            problems.append(_("列重复：%(cols)s") % {"cols": "、".join(sheet.duplicated)})
        message = "；".join(problems) + _("（表头须包含：%(cols)s）") % {
            "cols": "、".join(c.header for c in COLUMNS if c.required)
        }
        return Validation(errors=[RowError(sheet.header_row, _("表头"), message)])
    if not sheet.rows:
        raise ImportFileError(_("文件里只有表头，没有居民数据。"))
    checker = _RowChecker(sheet, user)
    result = Validation()
    for i, (row, values) in enumerate(sheet.rows, start=1):
        parsed = checker.check(row, values)
        if parsed is not None:
            result.rows.append(parsed)
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i)
    if progress is not None and len(sheet.rows) % PROGRESS_EVERY:
        progress(len(sheet.rows))
    for row in registered_id_numbers(checker.id_rows).values():
        checker.error(row, "id_number", _("该身份证号已在居民库中登记"))
    result.errors = sorted(checker.errors, key=_error_order)
    if result.errors:
        result.rows = []
    return result


def _error_order(error: RowError) -> tuple[int, int]:
    """By row, then in the order of the template's columns."""
    key = _HEADER_MAP.get(_normalise_header(error.column))
    return error.row, _KEY_ORDER.get(key, len(_KEY_ORDER))


def registered_id_numbers(id_rows: dict[str, int]) -> dict[str, int]:
    """Those of the ID numbers (number -> row) that the register already has."""
    numbers = list(id_rows)
    taken: dict[str, int] = {}
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        for number in Resident.objects.filter(id_number__in=chunk).values_list(
            "id_number", flat=True
        ):
            taken[number] = id_rows[number]
    return taken


# --- writing --------------------------------------------------------------------------
@dataclass
class WriteResult:
    created: int
    households_created: int


def write_rows(rows: list[ParsedRow], progress: Progress | None = None) -> WriteResult:
    """Create the residents of valid rows, and the households they need, in one
    transaction. Raises :class:`RowsRejected` (rolled back) when an ID number was
    registered since validation; the unique constraint still guards the rest."""
    with transaction.atomic():
        id_rows = {p.resident.id_number: p.row for p in rows if p.resident.id_number}
        taken = registered_id_numbers(id_rows)
        if taken:
            raise RowsRejected(
                sorted(
                    (
                        RowError(row, "身份证号", _("该身份证号已在居民库中登记（刚刚由他人导入）"))
                        for row in taken.values()
                    ),
                    key=lambda e: e.row,
                )
            )
        households, created = _households_for(rows)
        residents = []
        for p in rows:
            household, address = households[(p.building.pk, p.unit, p.room)]
            p.resident.household = household
            p.resident.address_text = address[-300:]
            residents.append(p.resident)
        for start in range(0, len(residents), PROGRESS_EVERY):
            Resident.objects.bulk_create(residents[start : start + PROGRESS_EVERY])
            if progress is not None:
                progress(min(start + PROGRESS_EVERY, len(residents)))
        counts.changed()  # written in bulk: no signals (the home page's counts)
    return WriteResult(created=len(residents), households_created=created)


def _households_for(rows: list[ParsedRow]) -> tuple[dict[tuple, tuple[Area, str]], int]:
    """(building pk, unit, room) -> (household, address text): found, or made in bulk.

    The buildings are locked first (PostgreSQL), so two imports into one building
    cannot both add the same household or number two children alike."""
    buildings = {p.building.pk: p.building for p in rows}
    locked = {b.pk: b for b in Area.objects.select_for_update().filter(pk__in=list(buildings))}
    wanted: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for p in rows:
        wanted[p.building.pk].add((p.unit, p.room))
    result: dict[tuple, tuple[Area, str]] = {}
    created = 0
    for pk, addresses in wanted.items():
        building = locked[pk]
        prefix = building.full_name()
        existing = _existing_households(building)
        new = []
        for unit, room in sorted(addresses, key=lambda a: (_natural(a[0]), _natural(a[1]))):
            household = existing.get((unit, room)) or existing.get(_household_name(unit, room))
            if household is None:
                household = Area(
                    name=_household_name(unit, room), level=Level.HOUSEHOLD, unit=unit, room=room
                )
                new.append(household)
            result[(pk, unit, room)] = (household, _address(prefix, building, household))
        if new:
            bulk_add_children(building, new)
            created += len(new)
            if any(h.pk is None for h in new):  # a backend that does not return ids
                by_path = dict(
                    Area.objects.filter(path__in=[h.path for h in new]).values_list("path", "pk")
                )
                for h in new:
                    h.pk = by_path[h.path]
    return result, created


def _existing_households(building: Area) -> dict:
    """Households under a building, by (unit, room) and by name."""
    found: dict = {}
    for h in Area.objects.filter(path__startswith=building.path, level=Level.HOUSEHOLD):
        if h.unit and h.room:
            found.setdefault((h.unit, h.room), h)
        found.setdefault(h.name, h)
    return found


def _address(prefix: str, building: Area, household: Area) -> str:
    if household.pk is None or household.depth == building.depth + 1:
        return f"{prefix} / {household.name}"
    return household.full_name()  # a household below some extra level


def _household_name(unit: str, room: str) -> str:
    return f"{unit}单元{room}室"


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text) if p)


# --- the template -------------------------------------------------------------------
# A made-up person (the ID number is valid but belongs to no one we know of); a row
# like this one is refused, so an untouched template imports nothing.
EXAMPLE = {
    "name": "张三",
    "gender": "男",
    "id_number": "110105199001010117",
    "phone": "13800001234",
    "community": "仁和社区",
    "estate": "仁和家园",
    "zone": "",
    "building": "1栋",
    "unit": "1",
    "room": "101",
    "relation": "户主",
    "tags": "低保户、空巢/独居老人",
    "note": "",
}


def template_workbook() -> bytes:
    """An empty import file: the header, one example row, and a 说明 sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "居民"
    sheet.append([c.header for c in COLUMNS])
    sheet.append([EXAMPLE[c.key] for c in COLUMNS])
    bold = Font(bold=True)
    for i, column in enumerate(COLUMNS):
        cell = sheet.cell(row=1, column=i + 1)
        cell.font = bold
        dimension = sheet.column_dimensions[cell.column_letter]
        dimension.width = 22 if column.key in ("id_number", "tags") else 12
        # Text format, so Excel keeps all 18 digits of an ID number and leading zeros.
        dimension.number_format = "@"
    sheet.freeze_panes = "A2"

    notes = workbook.create_sheet("说明")
    notes.append([_("列"), _("说明")])
    for column in COLUMNS:
        notes.append([column.header, str(column.help)])
    notes.append([])
    notes.append([_("可用的关爱标签")])
    for label in care_tag_labels():
        notes.append([label])
    notes.append([])
    notes.append([_("示例行（第2行）请删除或改成真实数据后再上传。")])
    for cell in notes[1]:
        cell.font = bold
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 60
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
