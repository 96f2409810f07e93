"""A small, complete world for tests: two communities of one street, and a user of
every role, so every permission rule can be tested from all sides."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import caches

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.party.models import OrgKind, PartyOrg
from tongxin.people.models import PartyMember, PartyMemberKind, Resident

PASSWORD = "Tongxin@2026"

# Valid (check digit and all) made-up ID numbers.
ID_A1 = "510321198001011233"
ID_A2 = "510321195503150029"
ID_B1 = "510321199002021446"


def clear_caches() -> None:
    """Empty every cache: the shared one and the fragments this process has drawn."""
    for cache in caches.all(initialized_only=False):
        cache.clear()


def valid_id(seq: int, birth: str = "19800101", region: str = "510321") -> str:
    """The ``seq``-th valid ID number for a region and birth date (check digit computed)."""
    from stdnum.cn import ric

    body = f"{region}{birth}{seq % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class World:
    district: Area
    street: Area
    community_a: Area
    community_b: Area
    grid_a: Area
    building_a: Area
    household_a1: Area
    household_a2: Area
    household_b1: Area
    resident_a1: Resident
    resident_a2: Resident
    resident_b1: Resident
    committee: PartyOrg
    branch_a: PartyOrg
    branch_b: PartyOrg
    admin: User
    district_office: User
    street_office: User
    worker_a: User
    worker_b: User
    grid_worker_a: User
    cadre_a: User
    party_member_a: User
    resident_user_a: User

    def users(self) -> dict[str, User]:
        return {
            "admin": self.admin,
            "district_office": self.district_office,
            "street_office": self.street_office,
            "worker_a": self.worker_a,
            "worker_b": self.worker_b,
            "grid_worker_a": self.grid_worker_a,
            "cadre_a": self.cadre_a,
            "party_member_a": self.party_member_a,
            "resident_user_a": self.resident_user_a,
        }


def make_user(username: str, role: str, area: Area | None, full_name: str = "", **kw) -> User:
    user = User(username=username, role=role, area=area, full_name=full_name or username, **kw)
    user.set_password(PASSWORD)
    user.save()
    return user


def household(building: Area, unit: str, room: str) -> Area:
    return building.add_child(
        name=f"{unit}单元{room}室", level=Level.HOUSEHOLD, unit=unit, room=room
    )


def build_world() -> World:
    district = Area.add_root(name="大安区", level=Level.DISTRICT)
    street = district.add_child(name="龙井街", level=Level.STREET)
    community_a = street.add_child(name="仁和社区", level=Level.COMMUNITY)
    community_b = street.add_child(name="宏丰社区", level=Level.COMMUNITY)
    estate_a = community_a.add_child(name="仁和家园", level=Level.ESTATE)
    grid_a = estate_a.add_child(name="第一网格", level=Level.ZONE)
    building_a = grid_a.add_child(name="1栋", level=Level.BUILDING)
    estate_b = community_b.add_child(name="万佳庭苑", level=Level.ESTATE)
    building_b = estate_b.add_child(name="5栋", level=Level.BUILDING)
    h_a1 = household(building_a, "1", "101")
    h_a2 = household(building_a, "2", "502")
    h_b1 = household(building_b, "1", "301")
    r_a1 = Resident.objects.create(
        name="张三", id_number=ID_A1, phone="13800001234", household=h_a1, tags="|hardship|"
    )
    r_a2 = Resident.objects.create(
        name="李淑芬",
        id_number=ID_A2,
        phone="13900005678",
        household=h_a2,
        tags="|elderly_alone|",
    )
    r_b1 = Resident.objects.create(
        name="王五", id_number=ID_B1, phone="13700009999", household=h_b1, tags="|subsistence|"
    )
    committee = PartyOrg.add_root(name="龙井街党工委", kind=OrgKind.WORKING_COMMITTEE, area=street)
    branch_a = committee.add_child(name="仁和社区第一支部", kind=OrgKind.BRANCH, area=community_a)
    branch_b = committee.add_child(name="宏丰社区第一支部", kind=OrgKind.BRANCH, area=community_b)

    party_user = make_user("party_a", UserRole.PARTY_MEMBER, community_a, "党员甲")
    PartyMember.objects.create(
        name="党员甲",
        user=party_user,
        branch=branch_a,
        kind=PartyMemberKind.RETIRED,
        home_community=community_a,
        phone="13600001111",
    )
    grid_worker = make_user("grid_a", UserRole.GRID_WORKER, grid_a, "网格员甲")
    Responsibility.objects.create(area=grid_a, user=grid_worker, role=Role.GRID_WORKER, position=1)
    return World(
        district=district,
        street=street,
        community_a=community_a,
        community_b=community_b,
        grid_a=grid_a,
        building_a=building_a,
        household_a1=h_a1,
        household_a2=h_a2,
        household_b1=h_b1,
        resident_a1=r_a1,
        resident_a2=r_a2,
        resident_b1=r_b1,
        committee=committee,
        branch_a=branch_a,
        branch_b=branch_b,
        admin=make_user("admin", UserRole.ADMIN, None, "管理员"),
        district_office=make_user("district", UserRole.DISTRICT_OFFICE, district, "区一线办"),
        street_office=make_user("street", UserRole.STREET_OFFICE, street, "街道办"),
        worker_a=make_user("worker_a", UserRole.COMMUNITY_WORKER, community_a, "社工甲"),
        worker_b=make_user("worker_b", UserRole.COMMUNITY_WORKER, community_b, "社工乙"),
        grid_worker_a=grid_worker,
        cadre_a=make_user("cadre_a", UserRole.CADRE, community_a, "干部甲"),
        party_member_a=party_user,
        resident_user_a=make_user("resident_a", UserRole.RESIDENT, None, "张三", resident=r_a1),
    )
