"""Pure rules for personal data: checking and masking ID numbers and phones."""

from __future__ import annotations

import re

from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def clean_id_number(value: str) -> str:
    """A 居民身份证号码 in its compact form (upper-case X), or a Chinese error."""
    try:
        return ric.validate(value)
    except InvalidLength:
        raise DjangoValidationError(_("身份证号应为18位")) from None
    except InvalidChecksum:
        raise DjangoValidationError(_("身份证号校验位不正确")) from None
    except (InvalidFormat, InvalidComponent):
        raise DjangoValidationError(_("身份证号格式不正确(出生日期或地区码无效)")) from None
    except ValidationError:
        raise DjangoValidationError(_("身份证号无效")) from None


def clean_phone(value: str) -> str:
    compact = re.sub(r"[\s()]", "", value)
    if not _PHONE.match(compact):
        raise DjangoValidationError(_("电话号码格式不正确(手机11位,座机如 0813-1234567)"))
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
