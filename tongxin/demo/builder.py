"""The demo street: 龙井街 of 大安区 (source 000), made up but plausible, built fast
and the same every time.

``build_demo_street`` fills an empty database with the district, the street, its six
communities down to every household, about 32,000 residents, the party
organisations (1 党工委, 2 党委, 4 党总支, 29 党支部 and their 党小组) with 1,371
members, the chains of responsible persons, cadres, volunteers, co-building units
and a handful of named demo accounts (:data:`DEMO_ACCOUNTS`).

Everything is drawn from one ``random.Random(seed)``, and ages are counted from a
fixed date (:data:`AS_OF`), so the same seed and scale give the same names, ID
numbers, phones and tags. Only the absences of responsible persons are placed
around today, so the demo always shows someone away.

All inserts are ``bulk_create``; the tree paths are planned in memory with
:mod:`tongxin.core.treepaths`.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from stdnum.cn import ric

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.core.treepaths import bulk_add_children, plan_children
from tongxin.demo import names
from tongxin.party.models import OrgKind, PartyOrg
from tongxin.people.models import (
    Cadre,
    CareTag,
    CoBuildingUnit,
    PartyMember,
    PartyMemberKind,
    PartyPost,
    Resident,
    Volunteer,
    pinyin_keys,
)

# Ages, ID numbers and dates of the register are counted from this day.
AS_OF = dt.date(2026, 1, 1)
DEMO_PASSWORD = "Tongxin@2026"

# Full-scale figures (scale 1.0): 32,000 people (source 000: 户籍人口3.2万人)
# in about 12,530 households; 1,371 party members.
FULL_HOUSEHOLDS = 12_530
FULL_PARTY_MEMBERS = 1371
FULL_VOLUNTEERS = 300
CADRES_PER_COMMUNITY = (4, 4, 3, 3, 3, 3)  # 20 in all
WORKERS_PER_COMMUNITY = (7, 7, 6, 6, 6, 5)  # the first is the community secretary


@dataclass(frozen=True)
class DemoAccount:
    """A named account for trying the demo; every one has the password below."""

    username: str
    role: str
    full_name: str
    where: str
    password: str = DEMO_PASSWORD


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", UserRole.ADMIN, "系统管理员", "全部数据"),
    DemoAccount("quyixian", UserRole.DISTRICT_OFFICE, "陈志刚", "大安区（区一线办）"),
    DemoAccount("jiedao", UserRole.STREET_OFFICE, "周红梅", "龙井街（街道党工委）"),
    DemoAccount("shequ", UserRole.COMMUNITY_WORKER, "王丽华", "仁和社区（社区书记）"),
    DemoAccount("shequ2", UserRole.COMMUNITY_WORKER, "赵敏", "宏丰社区（社区书记）"),
    DemoAccount("wangge", UserRole.GRID_WORKER, "李建军", "仁和社区 仁和家园 第一网格（网格长）"),
    DemoAccount("dangyuan", UserRole.PARTY_MEMBER, "张国华", "仁和社区（离退休党员、楼栋长）"),
    DemoAccount("ganbu", UserRole.CADRE, "黄文斌", "仁和社区（驻点干部）"),
    DemoAccount("jumin", UserRole.RESIDENT, "刘淑芬", "仁和社区 仁和家园 1栋（居民）"),
)
_DEMO = {a.username: a for a in DEMO_ACCOUNTS}

# The families living in the first two households of 仁和家园 1栋： the demo resident
# and the demo party member. (relation, gender, age, name)
_DEMO_FAMILIES = (
    (("户主", "F", 70, "刘淑芬"), ("配偶", "M", 72, "陈德明")),
    (("户主", "M", 62, "张国华"), ("配偶", "F", 60, "李秀兰"), ("子女", "M", 34, "张磊")),
)

# Household make-up: kind, weight. Mean size about 2.6.
_FAMILY_KINDS = (
    ("single_elder", 12),
    ("single_young", 10),
    ("couple_elder", 16),
    ("couple_young", 6),
    ("parent_child", 5),
    ("nuclear1", 23),
    ("nuclear2", 7),
    ("three_gen4", 6),
    ("three_gen5", 6),
    ("skip_gen", 3),
    ("big6", 3),
    ("elder_adult_child", 3),
)
_MIGRANT_KINDS = (("single_young", 40), ("couple_young", 25), ("nuclear1", 30), ("nuclear2", 5))
_MIGRANT_HOUSEHOLD_SHARE = 0.11  # about 8% of the people

# Party members: the kind mix of each sort of branch, and the ages each kind has.
_KIND_MIX = {
    "estate": (
        (PartyMemberKind.RETIRED, 38),
        (PartyMemberKind.EMPLOYED, 30),
        (PartyMemberKind.NO_OFFICE, 25),
        (PartyMemberKind.MOBILE, 7),
    ),
    "retired": ((PartyMemberKind.RETIRED, 92), (PartyMemberKind.NO_OFFICE, 8)),
    "mobile": ((PartyMemberKind.MOBILE, 1),),
    "nonpublic": ((PartyMemberKind.EMPLOYED, 9), (PartyMemberKind.MOBILE, 1)),
    "employed": ((PartyMemberKind.EMPLOYED, 1),),
}
_KIND_AGES = {
    PartyMemberKind.RETIRED: (56, 92),
    PartyMemberKind.EMPLOYED: (23, 59),
    PartyMemberKind.NO_OFFICE: (25, 80),
    PartyMemberKind.MOBILE: (20, 55),
}
_BRANCH_WEIGHT = {"retired": 1.5, "mobile": 0.6, "nonpublic": 0.8, "employed": 0.8}
_REGISTERS = {  # share of each kind registered at their home community (双报到)
    PartyMemberKind.EMPLOYED: 0.95,
    PartyMemberKind.RETIRED: 0.85,
    PartyMemberKind.NO_OFFICE: 0.9,
    PartyMemberKind.MOBILE: 0.4,
}
_NOT_FOR_DUTIES = {CareTag.RELEASED, CareTag.CORRECTION, CareTag.HOSPITALISED}


class DemoDataError(Exception):
    """The demo cannot be built into this database."""


# --- in-memory plan ------------------------------------------------------------------
@dataclass
class _Building:
    area: Area
    grid: _Grid
    address: str
    people: list[_Person] = field(default_factory=list)


@dataclass
class _Grid:
    area: Area
    community: int
    estate: Area
    buildings: list[_Building] = field(default_factory=list)
    people: list[_Person] = field(default_factory=list)


@dataclass
class _Home:
    area: Area
    building: _Building
    migrant: bool
    kind: str = ""
    people: list[_Person] = field(default_factory=list)


@dataclass
class _Person:
    resident: Resident
    age: int
    home: _Home
    index: int
    tags: set[str] = field(default_factory=set)
    member: PartyMember | None = None
    user: User | None = None


def _split(total: int, weights: Sequence[float], minimum: int = 1) -> list[int]:
    """``total`` shared out by ``weights`` (largest remainder), each at least ``minimum``."""
    n = len(weights)
    out = [minimum] * n
    rest = total - minimum * n
    if rest <= 0:
        return out
    s = sum(weights)
    shares = [w / s * rest for w in weights]
    floors = [math.floor(x) for x in shares]
    left = rest - sum(floors)
    order = sorted(range(n), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [a + b for a, b in zip(out, floors, strict=True)]


class _Builder:
    def __init__(self, scale: float, seed: int, stdout: IO[str] | Any | None) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.out = stdout
        self.today = timezone.localdate()
        self.started = time.monotonic()
        self.pinyin: dict[str, tuple[str, str]] = {}
        self.phones: set[str] = set()
        self.id_numbers: set[str] = set()
        self.region_ok: dict[tuple[str, int], bool] = {}
        self.usernames: set[str] = set(User.objects.values_list("username", flat=True))
        self.usernames |= set(_DEMO)
        self.counts: dict[str, int] = {}
        self.users: list[User] = []
        self.demo_users: dict[str, User] = {}
        self._surnames = [s for s, _ in names.SURNAMES]
        self._surname_cum = list(_cumulative(w for _, w in names.SURNAMES))

    # --- small helpers -------------------------------------------------------------
    def say(self, msg: str) -> None:
        if self.out is not None:
            self.out.write(f"{msg}(用时 {time.monotonic() - self.started:.1f} 秒)\n")

    def scaled(self, n: float, minimum: int = 1) -> int:
        return max(minimum, round(n * self.scale))

    def pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        return self.rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]

    def surname(self) -> str:
        return self.rng.choices(self._surnames, cum_weights=self._surname_cum)[0]

    def given(self, birth_year: int, gender: str) -> str:
        return self.rng.choice(names.GIVEN_NAMES[(names.era_of(birth_year), gender)])

    def person_name(self, age: int, gender: str | None = None) -> str:
        gender = gender or self.rng.choice("MF")
        return self.surname() + self.given(AS_OF.year - 1 - age, gender)

    def keys(self, name: str) -> tuple[str, str]:
        k = self.pinyin.get(name)
        if k is None:
            k = self.pinyin[name] = pinyin_keys(name)
        return k

    def phone(self) -> str:
        while True:
            p = self.rng.choice(names.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if p not in self.phones:
                self.phones.add(p)
                return p

    def birth_date(self, age: int) -> dt.date:
        """A birthday such that the person is ``age`` (or just turning it) at AS_OF."""
        year = AS_OF.year - 1 - age
        return dt.date(year, 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def region(self, year: int, migrant: bool) -> str:
        if migrant:
            pool = [c for c in names.MIGRANT_REGIONS if self._region_valid(c, year)]
            if pool:
                return self.rng.choice(pool)
        table = names.LOCAL_REGIONS_NEW if year >= 1983 else names.LOCAL_REGIONS_OLD
        valid = [(c, w) for c, w in table if self._region_valid(c, year)]
        return self.pick(valid or [("510321", 1)])

    def _region_valid(self, code: str, year: int) -> bool:
        key = (code, year)
        ok = self.region_ok.get(key)
        if ok is None:
            body = f"{code}{year}0615001"
            ok = self.region_ok[key] = ric.is_valid(body + ric.calc_check_digit(body + "0"))
        return ok

    def id_number(self, birth: dt.date, gender: str, migrant: bool) -> str:
        """A valid 18-digit 居民身份证号码： odd order code for men, even for women."""
        region = self.region(birth.year, migrant)
        while True:
            order = self.rng.randrange(500) * 2 + (1 if gender == "M" else 0)
            if order == 0:
                continue
            body = f"{region}{birth:%Y%m%d}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number

    def username(self, full_name: str) -> str:
        base = self.keys(full_name)[0] or "user"
        name, n = base, 1
        while name in self.usernames:
            n += 1
            name = f"{base}{n}"
        self.usernames.add(name)
        return name

    def new_user(
        self, full_name: str, role: str, area: Area | None, person: _Person | None = None
    ) -> User:
        user = User(
            username=self.username(full_name),
            full_name=full_name,
            role=role,
            area=area,
            password=make_password(None),  # unusable: these people get a password later
            phone=person.resident.phone if person else self.phone(),
            resident=person.resident if person else None,
        )
        if person is not None:
            person.user = user
        self.users.append(user)
        return user

    # --- the build -------------------------------------------------------------------
    def build(self) -> dict[str, int]:
        self.plan_areas()
        self.make_residents()
        self.make_demo_accounts()
        self.plan_party()
        self.plan_staff_and_chains()
        self.plan_cadres_volunteers_units()
        self.insert_people_and_orgs()
        self.counts["users"] = len(self.users) + len(self.demo_users)
        self.counts["seconds"] = round(time.monotonic() - self.started)
        return self.counts

    def plan_areas(self) -> None:
        rng = self.rng
        district = Area(name="大安区", level=Level.DISTRICT, code="510304")
        bulk_add_children(None, [district])
        street = Area(name="龙井街", level=Level.STREET)
        plan_children(district, [street])
        Area.objects.filter(pk=district.pk).update(numchild=district.numchild)
        self.district, self.street = district, street

        self.communities: list[Area] = []
        self.estates: list[list[Area]] = []  # per community
        self.grids: list[_Grid] = []
        self.buildings: list[_Building] = []
        self.homes: list[_Home] = []
        levels: dict[int, list[Area]] = {lv: [] for lv in Level.values}
        levels[Level.STREET].append(street)

        weights = [w for _, w, _ in names.COMMUNITIES]
        per_community = _split(FULL_HOUSEHOLDS, weights)
        communities = [Area(name=n, level=Level.COMMUNITY) for n, _, _ in names.COMMUNITIES]
        plan_children(street, communities)
        levels[Level.COMMUNITY] += communities
        self.communities = communities
        for ci, (community, (cname, _, estate_specs)) in enumerate(
            zip(communities, names.COMMUNITIES, strict=True)
        ):
            estates = [Area(name=e, level=Level.ESTATE) for e, _, _ in estate_specs]
            plan_children(community, estates)
            levels[Level.ESTATE] += estates
            self.estates.append(estates)
            n_grids = sum(g for _, g, _ in estate_specs)
            grid_full = _split(per_community[ci], [rng.uniform(0.85, 1.15) for _ in range(n_grids)])
            grid_no = 0
            for estate, (ename, g_count, style) in zip(estates, estate_specs, strict=True):
                grid_areas = []
                for _ in range(g_count):
                    grid_no += 1
                    grid_areas.append(
                        Area(name=f"第{names.chinese_number(grid_no)}网格", level=Level.ZONE)
                    )
                plan_children(estate, grid_areas)
                levels[Level.ZONE] += grid_areas
                building_no = 0
                for grid_area in grid_areas:
                    grid = _Grid(grid_area, ci, estate)
                    self.grids.append(grid)
                    full = grid_full[grid_no - g_count + grid_areas.index(grid_area)]
                    size = 30 if style == "old" else 66
                    n_buildings = self.scaled(max(1, round(full / size)))
                    n_homes = max(2, n_buildings, round(full * self.scale))
                    sizes = _split(n_homes, [rng.uniform(0.7, 1.3) for _ in range(n_buildings)])
                    b_areas = []
                    for _ in range(n_buildings):
                        building_no += 1
                        b_areas.append(Area(name=f"{building_no}栋", level=Level.BUILDING))
                    plan_children(grid_area, b_areas)
                    levels[Level.BUILDING] += b_areas
                    for b_area, hh in zip(b_areas, sizes, strict=True):
                        address = " / ".join(
                            ("大安区", "龙井街", cname, ename, grid_area.name, b_area.name)
                        )
                        building = _Building(b_area, grid, address)
                        grid.buildings.append(building)
                        self.buildings.append(building)
                        h_areas = [
                            Area(
                                name=f"{u}单元{room}室",
                                level=Level.HOUSEHOLD,
                                unit=str(u),
                                room=room,
                            )
                            for u, room in self._rooms(hh, style)
                        ]
                        plan_children(b_area, h_areas)
                        levels[Level.HOUSEHOLD] += h_areas
                        for h in h_areas:
                            self.homes.append(
                                _Home(h, building, rng.random() < _MIGRANT_HOUSEHOLD_SHARE)
                            )
        for level in (
            Level.STREET,
            Level.COMMUNITY,
            Level.ESTATE,
            Level.ZONE,
            Level.BUILDING,
            Level.HOUSEHOLD,
        ):
            Area.objects.bulk_create(levels[level], batch_size=2000)
        c = self.counts
        c["communities"] = len(communities)
        c["estates"] = len(levels[Level.ESTATE])
        c["grids"] = len(levels[Level.ZONE])
        c["buildings"] = len(levels[Level.BUILDING])
        c["households"] = len(levels[Level.HOUSEHOLD])
        c["areas"] = 2 + sum(len(v) for k, v in levels.items() if k != Level.STREET)
        self.say(
            f"已创建区域:1 个区、1 个街道、{c['communities']} 个社区、{c['estates']} 个小区、"
            f"{c['grids']} 个网格、{c['buildings']} 栋楼、{c['households']:,} 户"
        )

    def _rooms(self, hh: int, style: str) -> list[tuple[int, str]]:
        """``hh`` occupied flats of a building, as (unit, room number) in address order."""
        rng = self.rng
        if style == "old":
            units = 1 if hh <= 12 else 2 if hh <= 30 else 3
            per_floor = 2
        else:
            units = 1 if hh <= 24 else 2 if hh <= 80 else 3
            per_floor = 2 if hh <= 40 else rng.choice((2, 3, 4))
        capacity = math.ceil(hh / rng.uniform(0.82, 0.97))
        floors = max(1, math.ceil(capacity / (units * per_floor)))
        slots = [
            (u, f, r)
            for u in range(1, units + 1)
            for f in range(1, floors + 1)
            for r in range(1, per_floor + 1)
        ]
        chosen = sorted(rng.sample(slots, hh))
        return [(u, f"{f}{r:02d}") for u, f, r in chosen]

    # --- residents -------------------------------------------------------------------
    def make_residents(self) -> None:
        people: list[_Person] = []
        for i, home in enumerate(self.homes):
            if i < len(_DEMO_FAMILIES):
                members = [(rel, g, age, name[0], name) for rel, g, age, name in _DEMO_FAMILIES[i]]
                home.kind, home.migrant = "demo", False
            else:
                home.kind = self.pick(_MIGRANT_KINDS if home.migrant else _FAMILY_KINDS)
                members = [(*m, None) for m in self.family(home.kind)]
            for relation, gender, age, surname, full in members:
                birth = self.birth_date(age)
                name = full or surname + self.given(birth.year, gender)
                if age >= 18:
                    has_phone = self.rng.random() < (0.95 if age < 70 else 0.6)
                else:
                    has_phone = age >= 12 and self.rng.random() < 0.5
                resident = Resident(
                    name=name,
                    gender=gender,
                    birth_date=birth,
                    id_number=self.id_number(birth, gender, home.migrant),
                    phone=self.phone() if has_phone else "",
                    household=home.area,
                    relation=relation,
                )
                person = _Person(resident, age, home, len(people))
                home.people.append(person)
                home.building.people.append(person)
                home.building.grid.people.append(person)
                people.append(person)
        self.people = people
        self.assign_tags()

        for p in people:
            r = p.resident
            r.tag_list = sorted(p.tags)
            r.name_pinyin, r.name_initials = self.keys(r.name)
            r.phone_tail = r.phone[-4:]
            r.address_text = f"{p.home.building.address} / {p.home.area.name}"[-300:]
        Resident.objects.bulk_create([p.resident for p in people], batch_size=2000)
        c = self.counts
        c["residents"] = len(people)
        c["tagged_residents"] = sum(1 for p in people if p.tags)
        self.say(f"已创建 {len(people):,} 名居民，其中关爱对象 {c['tagged_residents']:,} 名")

    def family(self, kind: str) -> list[tuple[str, str, int, str]]:
        """(relation, gender, age, surname) of each member, the head first."""
        rng = self.rng

        def tri(lo: int, hi: int, mode: int) -> int:
            return round(rng.triangular(lo, hi, mode))

        def other(g: str) -> str:
            return "F" if g == "M" else "M"

        def child_gender() -> str:
            return "M" if rng.random() < 0.51 else "F"

        head_surname = self.surname()
        out: list[tuple[str, str, int, str]] = []

        def couple(lo: int, hi: int, mode: int) -> tuple[int, int, str, str]:
            """Head and spouse; returns the mother's age and the father's surname."""
            g = "M" if rng.random() < 0.8 else "F"
            age = tri(lo, hi, mode)
            out.append(("户主", g, age, head_surname))
            spouse_age = max(20, age + (rng.randint(-6, 2) if g == "M" else rng.randint(-2, 6)))
            spouse_surname = self.surname()
            out.append(("配偶", other(g), spouse_age, spouse_surname))
            mother_age = spouse_age if g == "M" else age
            father_surname = head_surname if g == "M" else spouse_surname
            mother_surname = spouse_surname if g == "M" else head_surname
            return age, mother_age, father_surname, mother_surname

        def children(
            mother_age: int, father_surname: str, mother_surname: str, n: int, adult: bool = False
        ) -> None:
            ages = sorted(
                (max(0, mother_age - rng.randint(22, 36)) for _ in range(n)), reverse=True
            )
            for a in ages:
                if adult:
                    a = max(22, a)
                s = father_surname if rng.random() < 0.92 else mother_surname
                out.append(("子女", child_gender(), a, s))

        if kind == "single_elder":
            out.append(("户主", "F" if rng.random() < 0.6 else "M", tri(60, 95, 72), head_surname))
        elif kind == "single_young":
            out.append(("户主", "M" if rng.random() < 0.55 else "F", tri(20, 59, 30), head_surname))
        elif kind == "couple_elder":
            couple(60, 90, 68)
        elif kind == "couple_young":
            couple(23, 45, 28)
        elif kind == "parent_child":
            g = "F" if rng.random() < 0.6 else "M"
            age = tri(35, 62, 45)
            out.append(("户主", g, age, head_surname))
            child_age = max(3, age - rng.randint(22, 34))
            out.append(
                (
                    "子女",
                    child_gender(),
                    child_age,
                    head_surname if g == "M" or rng.random() < 0.3 else self.surname(),
                )
            )
        elif kind == "nuclear1":
            _, mother, fs, ms = couple(27, 56, 38)
            children(mother, fs, ms, 1)
        elif kind == "nuclear2":
            _, mother, fs, ms = couple(30, 52, 40)
            children(mother, fs, ms, 2)
        elif kind in ("three_gen4", "three_gen5", "big6"):
            head_age, mother, fs, ms = couple(30, 52, 40)
            children(mother, fs, ms, 2 if kind == "big6" else 1)
            father_age = min(98, head_age + rng.randint(24, 34))
            mother_age = min(98, father_age - rng.randint(0, 4))
            if kind == "three_gen4":
                if rng.random() < 0.4:
                    out.append(("父母", "M", father_age, head_surname))
                else:
                    out.append(("父母", "F", mother_age, self.surname()))
            else:
                out.append(("父母", "M", father_age, head_surname))
                out.append(("父母", "F", mother_age, self.surname()))
        elif kind == "skip_gen":
            g = "M" if rng.random() < 0.5 else "F"
            age = tri(56, 82, 66)
            out.append(("户主", g, age, head_surname))
            if rng.random() < 0.55:
                out.append(("配偶", other(g), max(50, age + rng.randint(-4, 4)), self.surname()))
            s = head_surname if g == "M" or rng.random() < 0.4 else self.surname()
            out.append(("孙子女", child_gender(), rng.randint(3, 15), s))
        elif kind == "elder_adult_child":
            _, mother, fs, ms = couple(58, 82, 66)
            children(mother, fs, ms, 1, adult=True)
        else:  # pragma: no cover - the kinds above are all there is
            raise ValueError(kind)
        return out

    def assign_tags(self) -> None:
        """Care tags in about the proportions of an old urban street."""
        rng, people = self.rng, self.people
        n = len(people)
        homes = [h for h in self.homes if h.people]

        def target(rate: float) -> int:
            return max(1, round(rate * n))

        def tag_homes(tag: str, rate: float, candidates: list[_Home]) -> None:
            goal = target(rate)
            order = list(candidates)
            rng.shuffle(order)
            done = 0
            for h in order:
                if done >= goal:
                    break
                for p in h.people:
                    p.tags.add(tag)
                done += len(h.people)

        def tag_people(tag: str, goal: int, *pools: Iterable[_Person]) -> None:
            """``goal`` people, from the first pool first, then the next."""
            chosen = 0
            for pool in pools:
                pool = [p for p in pool if tag not in p.tags]
                k = min(goal - chosen, len(pool))
                if k <= 0:
                    continue
                for p in rng.sample(pool, k):
                    p.tags.add(tag)
                chosen += k

        for h in homes:
            if h.migrant:
                for p in h.people:
                    p.tags.add(CareTag.MIGRANT)
        # 低保 needs a local household registration (户籍), so no migrants.
        tag_homes(CareTag.SUBSISTENCE, 0.03, [h for h in homes if not h.migrant])
        tag_homes(CareTag.HARDSHIP, 0.02, homes)
        elderly = [p for p in people if p.age >= 60]
        alone = [h for h in homes if all(p.age >= 60 for p in h.people)]
        tag_homes(CareTag.ELDERLY_ALONE, 0.04 * len(elderly) / max(n, 1), alone)
        tag_people(CareTag.DISABLED, target(0.02), [p for p in people if p.age >= 6])
        children = [p for p in people if p.age < 16]
        tag_people(
            CareTag.LEFT_BEHIND_CHILD,
            target(0.005),
            [p for p in children if p.home.kind == "skip_gen"],
            [p for p in children if p.age >= 6],
        )
        tag_people(CareTag.UNEMPLOYED, target(0.015), [p for p in people if 30 <= p.age < 60])
        working_age_men = [p for p in people if 22 <= p.age <= 60 and p.resident.gender == "M"]
        working_age = [p for p in people if 22 <= p.age <= 60]
        tag_people(CareTag.RELEASED, target(0.001), working_age_men, working_age)
        tag_people(
            CareTag.CORRECTION,
            target(0.0005),
            [p for p in working_age if CareTag.RELEASED not in p.tags],
        )
        tag_people(CareTag.HOSPITALISED, target(0.003), [p for p in people if p.age >= 50], people)

    # --- demo accounts ---------------------------------------------------------------
    def make_demo_accounts(self) -> None:
        renhe = self.communities[0]
        first_grid = self.grids[0].area
        jumin_person, dangyuan_person = self.people[0], self.homes[1].people[0]
        areas = {
            "admin": None,
            "quyixian": self.district,
            "jiedao": self.street,
            "shequ": renhe,
            "shequ2": self.communities[1],
            "wangge": first_grid,
            "dangyuan": renhe,
            "ganbu": renhe,
            "jumin": None,
        }
        linked = {"dangyuan": dangyuan_person, "jumin": jumin_person}
        for account in DEMO_ACCOUNTS:
            person = linked.get(account.username)
            user = User(
                username=account.username,
                full_name=account.full_name,
                role=account.role,
                area=areas[account.username],
                phone=person.resident.phone if person else self.phone(),
                resident=person.resident if person else None,
            )
            user.set_password(account.password)
            user.save()
            if person is not None:
                person.user = user
            self.demo_users[account.username] = user
        self.dangyuan_person = dangyuan_person

    # --- party -----------------------------------------------------------------------
    def plan_party(self) -> None:
        rng = self.rng
        root = PartyOrg(
            name="龙井街党工委",
            kind=OrgKind.WORKING_COMMITTEE,
            area=self.street,
            secretary=self.person_name(rng.randint(42, 55)),
        )
        bulk_add_children(None, [root])
        self.party_root = root
        self.community_orgs: list[PartyOrg] = []
        self.branches: list[tuple[PartyOrg, str, int, Area | None]] = []  # org, sort, ci, estate
        self.groups: list[PartyOrg] = []
        levels: list[list[PartyOrg]] = [[], [], []]
        for ci, community in enumerate(self.communities):
            kind = OrgKind.COMMITTEE if ci < 2 else OrgKind.GENERAL_BRANCH
            suffix = "党委" if kind == OrgKind.COMMITTEE else "党总支"
            levels[0].append(PartyOrg(name=f"{community.name}{suffix}", kind=kind, area=community))
        plan_children(root, levels[0])
        PartyOrg.objects.filter(pk=root.pk).update(numchild=root.numchild)
        self.community_orgs = levels[0]
        for ci, (community, org) in enumerate(zip(self.communities, levels[0], strict=True)):
            estates = self.estates[ci]
            count = names.BRANCH_COUNTS[ci]
            # Each estate its own branch, keeping room for at least the retirees' branch.
            with_branch = estates[: max(1, min(len(estates), count - 1))]
            extras = names.EXTRA_BRANCHES[: count - len(with_branch)]
            branch_orgs = []
            for estate in with_branch:
                b = PartyOrg(name=f"{estate.name}党支部", kind=OrgKind.BRANCH, area=community)
                branch_orgs.append(b)
                self.branches.append((b, "estate", ci, estate))
            for sort, label in extras:
                b = PartyOrg(name=f"{community.name}{label}", kind=OrgKind.BRANCH, area=community)
                branch_orgs.append(b)
                self.branches.append((b, sort, ci, None))
            plan_children(org, branch_orgs)
            levels[1] += branch_orgs
        for b, sort, ci, estate in self.branches:
            if sort == "estate":
                grids = [g.area for g in self.grids if g.estate is estate]
                n = max(2, len(grids))
                areas = [grids[i % len(grids)] for i in range(n)]
            else:
                n = rng.randint(2, 3)
                areas = [self.communities[ci]] * n
            groups = [
                PartyOrg(name=f"第{names.chinese_number(i + 1)}党小组", kind=OrgKind.GROUP, area=a)
                for i, a in enumerate(areas)
            ]
            plan_children(b, groups)
            levels[2] += groups
        self.groups = levels[2]
        self.org_levels = levels
        self.plan_members()

    def plan_members(self) -> None:
        rng = self.rng
        weights = [w for _, w, _ in names.COMMUNITIES]
        per_community_full = _split(FULL_PARTY_MEMBERS, weights)
        branch_full: list[int] = []
        for ci in range(len(self.communities)):
            mine = [(b, sort, estate) for b, sort, c, estate in self.branches if c == ci]
            w = [
                sum(1 for g in self.grids if g.estate is estate)
                if sort == "estate"
                else _BRANCH_WEIGHT[sort]
                for _, sort, estate in mine
            ]
            branch_full += _split(per_community_full[ci], w)

        adults_by_estate: dict[int, list[_Person]] = {}
        adults_by_community: dict[int, list[_Person]] = {}
        for p in self.people:
            if p.age < 20 or p.tags & {CareTag.RELEASED, CareTag.CORRECTION}:
                continue
            adults_by_estate.setdefault(id(p.home.building.grid.estate), []).append(p)
            adults_by_community.setdefault(p.home.building.grid.community, []).append(p)
        for pool in (*adults_by_estate.values(), *adults_by_community.values()):
            rng.shuffle(pool)
        # The demo resident stays a plain resident; the demo party member comes first.
        taken: set[int] = {self.dangyuan_person.index, self.people[0].index}

        def take(
            pool: list[_Person], lo: int, hi: int, extra: Callable[[_Person], bool] | None = None
        ) -> _Person | None:
            for i, p in enumerate(pool):
                if p.index in taken or not lo <= p.age <= hi or (extra and not extra(p)):
                    continue
                del pool[i]
                taken.add(p.index)
                return p
            return None

        self.members: list[PartyMember] = []
        for (branch, sort, ci, estate), full in zip(self.branches, branch_full, strict=True):
            community = self.communities[ci]
            mine = []
            for _ in range(self.scaled(full)):
                if not self.members:  # the demo party member opens the first branch
                    kind, person = PartyMemberKind.RETIRED, self.dangyuan_person
                else:
                    kind = self.pick(_KIND_MIX[sort])
                    lo, hi = _KIND_AGES[kind]
                    person = None
                    if rng.random() < (0.5 if kind == PartyMemberKind.MOBILE else 0.93):
                        pools = []
                        if kind == PartyMemberKind.MOBILE:
                            pools.append(
                                (
                                    adults_by_community.get(ci, []),
                                    lambda p: CareTag.MIGRANT in p.tags,
                                )
                            )
                        if estate is not None:
                            pools.append((adults_by_estate.get(id(estate), []), None))
                        pools.append((adults_by_community.get(ci, []), None))
                        for pool, extra in pools:
                            person = take(pool, lo, hi, extra)
                            if person:
                                break
                mine.append(self.member(branch, community, kind, person))
            # The branch secretary: the first member who is not away as a mobile member.
            settled = [m for m in mine if m.kind != PartyMemberKind.MOBILE]
            branch.secretary = (settled or mine)[0].name
        c = self.counts
        c["party_members"] = len(self.members)
        c["party_members_linked"] = sum(1 for m in self.members if m.resident is not None)

    def member(
        self, branch: PartyOrg, community: Area, kind: str, person: _Person | None
    ) -> PartyMember:
        rng = self.rng
        if person is not None:
            age, name, phone = person.age, person.resident.name, person.resident.phone
            birth = person.resident.birth_date
        else:
            lo, hi = _KIND_AGES[kind]
            age = rng.randint(lo, hi)
            name, phone = self.person_name(age), self.phone()
            birth = self.birth_date(age)
        join_age = rng.randint(18, max(18, min(age - 1, 45)))
        joined = min(
            AS_OF - dt.timedelta(days=30),
            birth + dt.timedelta(days=round(join_age * 365.25) + rng.randrange(200)),
        )
        registered = None
        if rng.random() < _REGISTERS[kind]:
            start = max(joined, dt.date(2014, 3, 1))
            span = (AS_OF - start).days
            registered = start + dt.timedelta(days=rng.randrange(max(span, 1)))
        member = PartyMember(
            name=name,
            branch=branch,
            kind=kind,
            phone=phone,
            joined_on=joined,
            post=rng.choice(PartyPost.values) if kind == PartyMemberKind.NO_OFFICE else "",
            resident=person.resident if person else None,
            home_community=community if registered else None,
            registered_on=registered,
        )
        if person is not None:
            person.member = member
            member.user = person.user  # the demo party member already has an account
        self.members.append(member)
        return member

    # --- responsible persons ---------------------------------------------------------
    def plan_staff_and_chains(self) -> None:
        rng = self.rng
        self.chains: list[list[Responsibility]] = []
        demo = self.demo_users

        def staff_name() -> str:
            return self.person_name(rng.randint(25, 55))

        # Community workers; the first of each community is its secretary.
        self.secretaries: list[User] = []
        for ci, community in enumerate(self.communities):
            for k in range(WORKERS_PER_COMMUNITY[ci]):
                if k == 0 and ci < 2:
                    user = demo["shequ" if ci == 0 else "shequ2"]
                else:
                    user = self.new_user(staff_name(), UserRole.COMMUNITY_WORKER, community)
                if k == 0:
                    self.secretaries.append(user)
                    self.community_orgs[ci].secretary = user.full_name

        # Cadres (their Cadre rows come later); the first of each community is stationed there.
        self.cadre_users: list[tuple[User, int]] = []
        for ci, community in enumerate(self.communities):
            for k in range(CADRES_PER_COMMUNITY[ci]):
                if ci == 0 and k == 0:
                    user = demo["ganbu"]
                else:
                    user = self.new_user(
                        self.person_name(rng.randint(28, 56)), UserRole.CADRE, community
                    )
                self.cadre_users.append((user, ci))
        for ci, community in enumerate(self.communities):
            station = next(u for u, c in self.cadre_users if c == ci)
            self.chains.append(
                [
                    Responsibility(
                        area=community,
                        user=self.secretaries[ci],
                        role=Role.COMMUNITY_SECRETARY,
                        position=1,
                    ),
                    Responsibility(
                        area=community, user=station, role=Role.STATION_CADRE, position=2
                    ),
                ]
            )

        def fit(p: _Person) -> bool:
            return p.user is None and 23 <= p.age <= 72 and not (p.tags & _NOT_FOR_DUTIES)

        # Building leaders: a party member of the building where there is one.
        for building in self.buildings:
            chain: list[Responsibility] = []
            members = [p for p in building.people if p.member is not None and fit(p)]
            others = [p for p in building.people if p.member is None and fit(p)]
            rng.shuffle(members)
            rng.shuffle(others)
            dangyuan = self.dangyuan_person
            if building is dangyuan.home.building:
                members.insert(0, dangyuan)
            size = 1 if rng.random() < 0.5 else 2
            for person in (members + others)[:size]:
                if person is dangyuan:
                    user = demo["dangyuan"]
                elif person.member is not None:
                    user = self.new_user(
                        person.resident.name,
                        UserRole.PARTY_MEMBER,
                        self.communities[building.grid.community],
                        person,
                    )
                    person.member.user = user
                else:
                    user = self.new_user(
                        person.resident.name, UserRole.GRID_WORKER, building.area, person
                    )
                chain.append(
                    Responsibility(
                        area=building.area,
                        user=user,
                        role=Role.BUILDING_LEADER,
                        position=len(chain) + 1,
                    )
                )
            if not chain:  # nobody fit lives there: the grid sends someone
                user = self.new_user(staff_name(), UserRole.GRID_WORKER, building.area)
                chain.append(
                    Responsibility(
                        area=building.area, user=user, role=Role.BUILDING_LEADER, position=1
                    )
                )
            self.chains.append(chain)

        # Grids: 网格长， 网格员， then a 党小组长 (a party member living there) or a 联户长.
        for gi, grid in enumerate(self.grids):
            leader = (
                demo["wangge"]
                if gi == 0
                else self.new_user(staff_name(), UserRole.GRID_WORKER, grid.area)
            )
            worker = self.new_user(staff_name(), UserRole.GRID_WORKER, grid.area)
            chain = [
                Responsibility(area=grid.area, user=leader, role=Role.GRID_LEADER, position=1),
                Responsibility(area=grid.area, user=worker, role=Role.GRID_WORKER, position=2),
            ]
            members = [p for p in grid.people if p.member is not None and fit(p)]
            others = [p for p in grid.people if p.member is None and fit(p)]
            if members and rng.random() < 0.6:
                person = rng.choice(members)
                user = self.new_user(
                    person.resident.name,
                    UserRole.PARTY_MEMBER,
                    self.communities[grid.community],
                    person,
                )
                person.member.user = user
                role = Role.PARTY_GROUP_LEADER
            else:
                person = rng.choice(others) if others else None
                user = self.new_user(
                    person.resident.name if person else staff_name(),
                    UserRole.GRID_WORKER,
                    grid.area,
                    person,
                )
                role = Role.HOUSEHOLD_LIAISON
            chain.append(Responsibility(area=grid.area, user=user, role=role, position=3))
            self.chains.append(chain)

        # A few first persons are away today, so 依次递补 shows.
        demo_ids = {id(u) for u in demo.values()}
        firsts = [c for c in self.chains if len(c) >= 2 and id(c[0].user) not in demo_ids]
        forced = self.chains[len(self.communities) + len(self.buildings) + 1]  # 仁和 第二网格
        goal = max(1, round(0.03 * len(self.chains)))
        pool = [c for c in firsts if c is not forced]
        away = [forced, *rng.sample(pool, min(goal - 1, len(pool)))]
        for chain in away:
            r = chain[0]
            r.absent_from = self.today - dt.timedelta(days=rng.randint(1, 7))
            r.absent_until = self.today + dt.timedelta(days=rng.randint(3, 21))
            r.absence_reason = rng.choice(names.ABSENCE_REASONS)
        self.counts["absent"] = len(away)

    # --- cadres, volunteers, co-building units ---------------------------------------
    def plan_cadres_volunteers_units(self) -> None:
        rng = self.rng
        units = list(names.CADRE_UNITS)
        rng.shuffle(units)
        self.cadres = [
            Cadre(
                user=user,
                unit=units[i % len(units)],
                post=rng.choice(names.CADRE_POSTS),
                community=self.communities[ci],
                motto=rng.choice(names.MOTTOS),
            )
            for i, (user, ci) in enumerate(self.cadre_users)
        ]
        self.cadres[0].unit, self.cadres[0].post = "大安区民政局", "副局长"  # ganbu

        per_community = _split(
            self.scaled(FULL_VOLUNTEERS, len(self.communities)),
            [w for _, w, _ in names.COMMUNITIES],
        )
        taken: set[int] = set()
        self.volunteers: list[Volunteer] = []
        for ci, n in enumerate(per_community):
            community = self.communities[ci]
            pool = [
                p
                for p in self.people
                if p.home.building.grid.community == ci
                and 16 <= p.age <= 75
                and not (p.tags & _NOT_FOR_DUTIES)
            ]
            rng.shuffle(pool)
            for _ in range(n):
                person = None
                if rng.random() < 0.85:
                    while pool and person is None:
                        candidate = pool.pop()
                        if candidate.index not in taken:
                            person = candidate
                if person is not None:
                    taken.add(person.index)
                    name = person.resident.name
                    phone = person.resident.phone or self.phone()
                else:
                    name, phone = self.person_name(rng.randint(18, 65)), self.phone()
                skills = rng.sample(names.VOLUNTEER_SKILLS, rng.randint(1, 2))
                self.volunteers.append(
                    Volunteer(
                        name=name,
                        resident=person.resident if person else None,
                        phone=phone,
                        community=community,
                        skills="、".join(skills),
                        registered_on=dt.date(2014, 1, 1) + dt.timedelta(days=rng.randrange(4300)),
                    )
                )

        self.units: list[tuple[CoBuildingUnit, list[Area], list[PartyOrg]]] = []
        for i, (name, kind) in enumerate(names.CO_BUILDING_UNITS):
            cis = [i % len(self.communities)]
            if rng.random() < 0.4:
                cis.append((i + rng.randint(1, len(self.communities) - 1)) % len(self.communities))
            branches = [b for b, _, ci, _ in self.branches if ci in cis]
            unit = CoBuildingUnit(
                name=name,
                kind=kind,
                contact_name=self.person_name(rng.randint(30, 55)),
                contact_phone=self.phone(),
            )
            self.units.append(
                (
                    unit,
                    [self.communities[c] for c in cis],
                    rng.sample(branches, min(len(branches), rng.randint(1, 3))),
                )
            )

    # --- inserts ---------------------------------------------------------------------
    def insert_people_and_orgs(self) -> None:
        for level in self.org_levels:
            PartyOrg.objects.bulk_create(level, batch_size=2000)
        User.objects.bulk_create(self.users, batch_size=2000)
        PartyMember.objects.bulk_create(self.members, batch_size=2000)
        c = self.counts
        c["party_orgs"] = 1 + sum(len(v) for v in self.org_levels)
        c["committees"] = sum(1 for o in self.org_levels[0] if o.kind == OrgKind.COMMITTEE)
        c["general_branches"] = sum(
            1 for o in self.org_levels[0] if o.kind == OrgKind.GENERAL_BRANCH
        )
        c["branches"] = len(self.org_levels[1])
        c["groups"] = len(self.org_levels[2])
        self.say(
            f"已创建党组织:1 个街道党工委、{c['committees']} 个社区党委、"
            f"{c['general_branches']} 个社区党总支、{c['branches']} 个党支部、"
            f"{c['groups']} 个党小组；党员 {c['party_members']:,} 名"
        )
        chains = [r for chain in self.chains for r in chain]
        Responsibility.objects.bulk_create(chains, batch_size=2000)
        c["responsibilities"] = len(chains)
        self.say(
            f"已创建账号 {len(self.users) + len(self.demo_users):,} 个"
            f"(演示账号 {len(self.demo_users)} 个),"
            f"责任人 {len(chains):,} 条(今日离岗 {c['absent']} 人)"
        )
        Cadre.objects.bulk_create(self.cadres)
        Volunteer.objects.bulk_create(self.volunteers, batch_size=2000)
        CoBuildingUnit.objects.bulk_create([u for u, _, _ in self.units])
        area_links = CoBuildingUnit.communities.through
        org_links = CoBuildingUnit.branches.through
        area_links.objects.bulk_create(
            [
                area_links(cobuildingunit_id=u.pk, area_id=a.pk)
                for u, areas, _ in self.units
                for a in areas
            ]
        )
        org_links.objects.bulk_create(
            [
                org_links(cobuildingunit_id=u.pk, partyorg_id=b.pk)
                for u, _, branches in self.units
                for b in branches
            ]
        )
        c["cadres"] = len(self.cadres)
        c["volunteers"] = len(self.volunteers)
        c["co_building_units"] = len(self.units)
        self.say(
            f"已创建机关干部 {c['cadres']} 名、志愿者 {c['volunteers']:,} 名、"
            f"共建单位 {c['co_building_units']} 家"
        )


def _cumulative(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def build_demo_street(
    scale: float = 1.0, seed: int = 2013, stdout: IO[str] | Any | None = None
) -> dict[str, int]:
    """Build the demo street into the current database and return what was made.

    ``scale`` multiplies households, residents, party members and volunteers; the
    structure (6 communities, their estates and grids, 29 branches) stays whole at
    any scale. Raises :class:`DemoDataError` when a demo username is taken."""
    if not scale > 0:
        raise DemoDataError("规模（scale）必须大于 0")
    taken = sorted(User.objects.filter(username__in=list(_DEMO)).values_list("username", flat=True))
    if taken:
        raise DemoDataError(f"已有同名账号：{'、'.join(taken)}，请在空数据库中生成演示数据")
    with transaction.atomic():
        return _Builder(scale, seed, stdout).build()
