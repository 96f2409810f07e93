"""Masking what residents type before it reaches a public page (镜子墙).

Titles and answers are free text: a resident writes "3单元502室张三家漏水，电话13800001234"
and the board must show "**家漏水，电话***********" — never a phone, an ID number, a
room or a name. The patterns are deliberately greedy: a masked building number costs
little, a leaked phone costs a lot."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "**"

_ID_NUMBER = re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?![0-9])")
# Any run of 7 or more digits (mobile, landline, card numbers), with spaces or dashes
# inside, e.g. 138 0000 1234 or 0825-1234567.
_LONG_NUMBER = re.compile(r"(?<![0-9])\d(?:[\s\-]?\d){6,}(?![0-9])")
_D = r"[0-9０-９一二三四五六七八九十]+"
_ROOM = re.compile(
    rf"(?:{_D}\s*(?:号楼|栋|幢|座|号)\s*)?{_D}\s*单元\s*{_D}\s*(?:室|号|户)?"  # 5栋2单元301, 3单元502
    rf"|(?:{_D}\s*(?:号楼|栋|幢|座)\s*){_D}\s*(?:室|号|户)"  # 5栋301室
    rf"|(?:{_D}\s*(?:号楼|栋|幢|座)\s*-?\s*)\d{{3,4}}(?![0-9])"  # 5栋301, 5栋-301
    rf"|{_D}\s*-\s*{_D}\s*-\s*{_D}"  # 5-2-301
    rf"|\d{{3,4}}\s*(?:室|户)"  # 502室
)
# A family name with a form of address: 张先生, 李阿姨, 王大爷.
_ADDRESSED = re.compile(
    r"[\u4e00-\u9fff](?:先生|女士|小姐|阿姨|大爷|大妈|奶奶|爷爷|师傅|老师|大姐|大哥|婆婆)"
)


def scrub(text: str, names: Iterable[str] = (), known: frozenset[str] = frozenset()) -> str:
    """``text`` without phones, ID numbers, rooms, the given ``names`` (with the given
    name alone), any of the ``known`` names (the people of the area) and addressed
    family names."""
    if not text:
        return ""
    text = mask_known(text, known)
    out = _ID_NUMBER.sub(MASK, text)
    out = _LONG_NUMBER.sub(MASK, out)
    out = _ROOM.sub(MASK, out)
    for name in sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True):
        out = out.replace(name, MASK)
        if len(name) >= 2:  # 张三 also appears as 张某三, or the given name alone
            out = out.replace(name[1:], MASK) if len(name) >= 3 else out
    out = _ADDRESSED.sub(lambda m: "某" + m.group(0)[1:], out)
    return out


def mask_known(text: str, known: frozenset[str]) -> str:
    """Every 2–4 character run of ``text`` that is one of the ``known`` names, masked.
    A set lookup per position and length, so thousands of names cost nothing."""
    if not known:
        return text
    out, i = [], 0
    while i < len(text):
        for size in (4, 3, 2):
            if text[i : i + size] in known:
                out.append(MASK)
                i += size
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def people_names(area_path: str) -> frozenset[str]:
    """The names of the residents, party members and staff of an area: one query."""
    from tongxin.accounts.models import User
    from tongxin.people.models import PartyMember, Resident

    residents = Resident.objects.filter(household__path__startswith=area_path).values_list("name")
    members = PartyMember.objects.filter(home_community__path__startswith=area_path).values_list(
        "name"
    )
    staff = User.objects.filter(area__path__startswith=area_path).values_list("full_name")
    rows = residents.order_by().union(members.order_by(), staff.order_by())
    return frozenset(name for (name,) in rows if name and 2 <= len(name) <= 4)
