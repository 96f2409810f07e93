"""Pure rules for personal data: checking and masking ID numbers and phones."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def clean_id_number(value: str) -> str:
    """A 居民身份证号码 in its compact form (upper-case X), or a Chinese error.

    python-stdnum does the arithmetic (check digit, birth date, region database).
    Its ``validate`` also demands that the region code existed in the birth year,
    but a real card carries the code of the office that issued it, often years
    later: 510304 (自贡市大安区, since 1983) is on the cards of people born in 1950.
    So a code is accepted when it is known for any period."""
    number = re.sub(r"[\s-]", "", value or "").upper()
    if len(number) != 18:
        raise DjangoValidationError(_("身份证号应为18位"))
    if not number[:-1].isdigit() or not (number[-1].isdigit() or number[-1] == "X"):
        raise DjangoValidationError(_("身份证号格式不正确（前17位应为数字，最后一位为数字或X）"))
    if number[-1] != ric.calc_check_digit(number):
        raise DjangoValidationError(_("身份证号校验位不正确"))
    try:
        born = ric.get_birth_date(number)
    except InvalidComponent:
        born = None
    if born is None or born > dt.date.today() or born.year < 1900:
        raise DjangoValidationError(_("身份证号中的出生日期无效"))
    found = {k for _, props in numdb.get("cn/loc").info(number[:6]) for k in props}
    if "county" not in found:
        raise DjangoValidationError(_("身份证号中的地区码无效"))
    return number


def clean_phone(value: str) -> str:
    compact = re.sub(r"[\s()]", "", value)
    if not _PHONE.match(compact):
        raise DjangoValidationError(_("电话号码格式不正确（手机11位，座机如 0813-1234567）"))
    return compact


def mask_id_number(value: str) -> str:
    """110***********1234: region prefix and last four kept."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * (len(value) - 2) + value[-2:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
