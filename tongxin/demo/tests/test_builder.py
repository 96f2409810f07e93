import datetime as dt
import re
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django.utils import timezone
from stdnum.cn import ric

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.demo.builder import DEMO_ACCOUNTS, DemoDataError, build_demo_street
from tongxin.party.models import OrgKind, PartyOrg
from tongxin.people.models import (
    Cadre,
    CareTag,
    CoBuildingUnit,
    PartyMember,
    Resident,
    Volunteer,
    pinyin_keys,
)

SCALE = 0.02


@pytest.fixture
def street(db):
    return build_demo_street(scale=SCALE, seed=2013)


def wipe() -> None:
    """Remove everything the builder made, dependants first."""
    CoBuildingUnit.objects.all().delete()
    Volunteer.objects.all().delete()
    Cadre.objects.all().delete()
    Responsibility.objects.all().delete()
    PartyMember.objects.all().delete()
    User.objects.all().delete()
    Resident.objects.all().delete()
    PartyOrg.objects.all().delete()
    Area.objects.all().delete()


def fingerprint() -> list[tuple]:
    residents = [
        (
            r.household.path,
            r.household.name,
            r.name,
            r.gender,
            r.birth_date,
            r.id_number,
            r.phone,
            r.relation,
            r.tags,
        )
        for r in Resident.objects.select_related("household").order_by("household__path", "id")
    ]
    areas = list(Area.objects.values_list("path", "name", "level", "unit", "room"))
    orgs = list(PartyOrg.objects.values_list("path", "name", "kind", "secretary", "area__path"))
    members = list(
        PartyMember.objects.order_by("id").values_list(
            "name",
            "branch__path",
            "kind",
            "post",
            "phone",
            "joined_on",
            "registered_on",
            "resident__id_number",
            "user__username",
        )
    )
    users = list(
        User.objects.order_by("username").values_list(
            "username", "full_name", "role", "area__path", "phone", "resident__id_number"
        )
    )
    chains = list(
        Responsibility.objects.order_by("area__path", "position").values_list(
            "area__path",
            "position",
            "role",
            "user__username",
            "absence_reason",
        )
    )
    return [residents, areas, orgs, members, users, chains]


def test_the_structure_is_that_of_longjing_street(street):
    assert Area.objects.filter(level=Level.DISTRICT).get().name == "大安区"
    assert Area.objects.filter(level=Level.STREET).get().name == "龙井街"
    communities = list(Area.objects.filter(level=Level.COMMUNITY))
    assert [c.name for c in communities] == [
        "仁和社区",
        "宏丰社区",
        "龙井社区",
        "园苑社区",
        "万佳社区",
        "杨家冲社区",
    ]
    for community in communities:
        below = Area.objects.within(community)
        for level in (Level.ESTATE, Level.ZONE, Level.BUILDING, Level.HOUSEHOLD):
            assert below.filter(level=level).exists(), (community, level)
        assert Resident.objects.within(community).exists()
        assert Volunteer.objects.filter(community=community).exists()
    assert street["communities"] == 6
    assert street["residents"] == Resident.objects.count() > 300
    assert street["households"] == Area.objects.filter(level=Level.HOUSEHOLD).count()
    for h in Area.objects.filter(level=Level.HOUSEHOLD):
        assert h.unit and h.room and h.name == f"{h.unit}单元{h.room}室"
    assert not Area.objects.filter(level=Level.HOUSEHOLD, residents=None).exists()
    zones = Area.objects.filter(level=Level.ZONE)
    assert all(re.fullmatch(r"第[一二三四五六七八九十]+网格", z.name) for z in zones)


def test_party_organisations_follow_source_000(street):
    kinds = Counter(PartyOrg.objects.values_list("kind", flat=True))
    assert kinds[OrgKind.WORKING_COMMITTEE] == 1
    assert kinds[OrgKind.COMMITTEE] == 2
    assert kinds[OrgKind.GENERAL_BRANCH] == 4
    assert kinds[OrgKind.BRANCH] == 29
    assert kinds[OrgKind.GROUP] >= 2 * 29
    root = PartyOrg.objects.get(kind=OrgKind.WORKING_COMMITTEE)
    assert root.name == "龙井街党工委" and root.area.level == Level.STREET
    for community in Area.objects.filter(level=Level.COMMUNITY):
        org = PartyOrg.objects.get(
            area=community, kind__in=[OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH]
        )
        assert PartyOrg.objects.get_parent(org) == root
        assert org.secretary
    for branch in PartyOrg.objects.filter(kind=OrgKind.BRANCH):
        assert branch.area.level == Level.COMMUNITY
        assert branch.members.exists(), branch
        assert PartyOrg.objects.get_children_count(branch) >= 2
    for m in PartyMember.objects.select_related("branch__area", "resident__household"):
        if m.resident:
            assert m.resident.household.path.startswith(m.branch.area.path)
            assert m.name == m.resident.name
        if m.home_community_id:
            assert m.home_community_id == m.branch.area_id and m.registered_on
        assert bool(m.post) == (m.kind == "no_office")


def test_full_scale_counts_do_not_depend_on_scale(db):
    counts = build_demo_street(scale=0.05, seed=7)
    assert counts["branches"] == 29
    assert counts["communities"] == 6
    assert counts["cadres"] == 20
    assert counts["co_building_units"] == 15


def test_id_numbers_are_valid_unique_and_agree_with_the_register(street):
    rows = list(Resident.objects.values_list("id_number", "gender", "birth_date"))
    numbers = [n for n, _, _ in rows]
    assert all(numbers)
    assert len(set(numbers)) == len(numbers)
    for number, gender, birth in rows:
        assert ric.is_valid(number), number
        assert ric.get_birth_date(number) == birth
        assert (int(number[16]) % 2 == 1) == (gender == "M")
    assert Counter(n[:6] for n in numbers).most_common(1)[0][0] == "510304"
    phones = [p for p in Resident.objects.values_list("phone", flat=True) if p]
    assert len(set(phones)) == len(phones)
    assert all(re.fullmatch(r"1[3589]\d{9}", p) for p in phones)
    assert Resident.objects.filter(phone="").exists()


def test_search_keys_and_tags_are_set_as_save_would(street):
    for r in Resident.objects.select_related("household")[:60]:
        assert (r.name_pinyin, r.name_initials) == pinyin_keys(r.name)
        assert r.phone_tail == r.phone[-4:]
        assert r.address_text == r.household.full_name()[-300:]
    order = CareTag.values
    for tags in Resident.objects.exclude(tags="").values_list("tags", flat=True):
        assert tags.startswith("|") and tags.endswith("|")
        listed = tags.strip("|").split("|")
        assert listed == sorted(listed, key=order.index)
    present = {
        t
        for tags in Resident.objects.values_list("tags", flat=True)
        for t in tags.strip("|").split("|")
        if t
    }
    assert present == set(order)  # every care group shows up even at a small scale
    assert Resident.objects.search("lsf").filter(name="刘淑芬").exists()


def test_the_trees_are_valid_for_treebeard(street):
    assert all(problems == [] for problems in Area.objects.find_problems())
    assert all(problems == [] for problems in PartyOrg.objects.find_problems())
    for model in (Area, PartyOrg):
        for node in model.objects.filter(depth__lte=4):
            assert (
                node.numchild
                == model.objects.filter(path__startswith=node.path, depth=node.depth + 1).count()
            )
    # Adding by treebeard after the bulk build continues the paths cleanly.
    building = Area.objects.filter(level=Level.BUILDING).first()
    building.add_child(name="9单元999室", level=Level.HOUSEHOLD, unit="9", room="999")
    assert all(problems == [] for problems in Area.objects.find_problems())


def test_same_seed_same_street_other_seed_other_street(db):
    build_demo_street(scale=SCALE, seed=2013)
    first = fingerprint()
    wipe()
    build_demo_street(scale=SCALE, seed=2013)
    assert fingerprint() == first
    wipe()
    build_demo_street(scale=SCALE, seed=1)
    other = fingerprint()
    assert other[0] != first[0]


def test_chains_of_responsibility(street):
    for zone in Area.objects.filter(level=Level.ZONE):
        chain = list(zone.responsibilities.select_related("user"))
        assert [r.position for r in chain] == [1, 2, 3]
        assert [r.role for r in chain[:2]] == [Role.GRID_LEADER, Role.GRID_WORKER]
        assert chain[2].role in (Role.PARTY_GROUP_LEADER, Role.HOUSEHOLD_LIAISON)
        assert chain[0].user.role == chain[1].user.role == UserRole.GRID_WORKER
    for building in Area.objects.filter(level=Level.BUILDING):
        chain = list(building.responsibilities.select_related("user"))
        assert 1 <= len(chain) <= 2
        assert all(r.role == Role.BUILDING_LEADER for r in chain)
        for r in chain:
            if r.user.role == UserRole.PARTY_MEMBER:
                assert r.user.party_member.resident.household.path.startswith(building.path)
    for community in Area.objects.filter(level=Level.COMMUNITY):
        first = community.responsibilities.get(position=1)
        assert first.role == Role.COMMUNITY_SECRETARY
        assert first.user.role == UserRole.COMMUNITY_WORKER
        assert User.objects.filter(role=UserRole.COMMUNITY_WORKER, area=community).count() >= 5
    # Someone is away today, and the next one in the chain answers (依次递补).
    today = timezone.localdate()
    away = Responsibility.objects.filter(absent_from__lte=today, absent_until__gte=today)
    assert away.exists() and all(r.position == 1 and r.absence_reason for r in away)
    renhe = Area.objects.get(name="仁和社区")
    grid2 = Area.objects.get(name="第二网格", path__startswith=renhe.path)
    assert grid2.responsible_now(today).position == 2
    assert grid2.responsible_now(today + dt.timedelta(days=60)).position == 1


def test_only_the_demo_accounts_can_sign_in(street):
    names = {a.username for a in DEMO_ACCOUNTS}
    assert names == {
        "admin",
        "quyixian",
        "jiedao",
        "shequ",
        "shequ2",
        "wangge",
        "dangyuan",
        "ganbu",
        "jumin",
    }
    usable = {u.username for u in User.objects.all() if u.has_usable_password()}
    assert usable == names
    request = RequestFactory().get("/")
    for account in DEMO_ACCOUNTS:
        user = User.objects.get(username=account.username)
        assert user.role == account.role and user.full_name == account.full_name
        assert Client().login(
            request=request, username=account.username, password=account.password
        ), account.username


def test_the_demo_accounts_sit_where_the_readme_says(street):
    u = {a.username: User.objects.get(username=a.username) for a in DEMO_ACCOUNTS}
    renhe = Area.objects.get(name="仁和社区")
    assert u["admin"].area is None and u["admin"].is_superuser
    assert u["quyixian"].area.name == "大安区" and u["jiedao"].area.name == "龙井街"
    assert u["shequ"].area == renhe and u["shequ2"].area.name == "宏丰社区"
    grid = u["wangge"].area
    assert grid.name == "第一网格" and grid.path.startswith(renhe.path)
    assert grid.responsibilities.get(position=1).user == u["wangge"]
    member = u["dangyuan"].party_member
    assert member.branch.area == renhe and member.resident == u["dangyuan"].resident
    assert u["dangyuan"].resident.name == u["dangyuan"].full_name
    assert u["ganbu"].cadre.community == renhe and u["ganbu"].area == renhe
    assert u["jumin"].area is None
    assert u["jumin"].resident.household.path.startswith(renhe.path)
    assert u["jumin"].resident.name == u["jumin"].full_name
    assert not hasattr(u["jumin"].resident, "party_member")


def test_seed_demo_command(db):
    out = StringIO()
    call_command("seed_demo", "--scale", str(SCALE), "--if-empty", stdout=out)
    text = out.getvalue()
    assert "6 个社区" in text and "演示数据生成完毕" in text
    counts = (Area.objects.count(), Resident.objects.count(), User.objects.count())

    out = StringIO()
    call_command("seed_demo", "--scale", str(SCALE), "--if-empty", stdout=out)
    assert "跳过" in out.getvalue()
    assert (Area.objects.count(), Resident.objects.count(), User.objects.count()) == counts

    with pytest.raises(CommandError, match="数据库中已有区域数据"):
        call_command("seed_demo", "--scale", str(SCALE), stdout=StringIO())


def test_a_taken_demo_username_stops_the_build(db):
    User.objects.create_user("admin", password="x", role=UserRole.ADMIN)
    with pytest.raises(DemoDataError):
        build_demo_street(scale=SCALE)
    assert not Area.objects.exists()
    with pytest.raises(CommandError, match="admin"):
        call_command("seed_demo", "--scale", str(SCALE), stdout=StringIO())
