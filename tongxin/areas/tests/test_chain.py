import datetime as dt

import pytest

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.testing import make_user

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def grid(world):
    return world.grid_a


def chain(area, *names):
    out = []
    for i, n in enumerate(names, start=1):
        u = make_user(n, UserRole.GRID_WORKER, area, n)
        out.append(
            Responsibility.objects.create(area=area, user=u, role=Role.GRID_WORKER, position=i + 10)
        )
    return out


def test_it_answers_the_first_present_person(world):
    world.grid_a.responsibilities.all().delete()
    first, _second = chain(world.grid_a, "gw1", "gw2")
    assert world.grid_a.responsible_now(TODAY) == first


def test_it_skips_an_absent_first_person(world):
    world.grid_a.responsibilities.all().delete()
    first, second, _third = chain(world.grid_a, "gw1", "gw2", "gw3")
    first.absent_from, first.absent_until = (
        TODAY - dt.timedelta(days=1),
        TODAY + dt.timedelta(days=3),
    )
    first.save()
    assert world.grid_a.responsible_now(TODAY) == second
    # Back at work after the absence ends.
    assert world.grid_a.responsible_now(TODAY + dt.timedelta(days=4)) == first


def test_it_treats_open_ended_absence_as_until_further_notice(world):
    world.grid_a.responsibilities.all().delete()
    first, second = chain(world.grid_a, "gw1", "gw2")
    first.absent_from = TODAY
    first.save()
    assert world.grid_a.responsible_now(TODAY + dt.timedelta(days=400)) == second


def test_it_skips_deactivated_accounts(world):
    world.grid_a.responsibilities.all().delete()
    first, second = chain(world.grid_a, "gw1", "gw2")
    first.user.is_active = False
    first.user.save()
    assert world.grid_a.responsible_now(TODAY) == second


def test_it_walks_up_the_tree_when_a_chain_is_exhausted(world):
    world.grid_a.responsibilities.all().delete()
    (only,) = chain(world.building_a, "bl1")
    only.absent_from = TODAY
    only.save()
    (up,) = chain(world.community_a, "sec1")
    assert world.household_a1.responsible_now(TODAY) == up


def test_it_answers_none_when_nobody_anywhere(world):
    Responsibility.objects.all().delete()
    assert world.household_b1.responsible_now(TODAY) is None


def test_subtree_is_one_query(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        names = {a.name for a in Area.objects.within(world.community_a)}
    assert "仁和社区" in names and "1栋" in names and "宏丰社区" not in names
    assert Area.objects.within(world.community_a).filter(level=Level.HOUSEHOLD).count() == 2


def test_a_place_reads_its_path_root_first_at_every_depth(world, django_assert_num_queries):
    """ancestors_and_self (a query built once per depth) and full_name from it."""
    household = world.household_a1
    nodes = household.ancestors_and_self()
    assert nodes[0] == world.district and nodes[-1] == household
    assert [a.depth for a in nodes] == list(range(1, household.depth + 1))
    assert nodes[2] == world.community_a
    for area in (world.district, world.street, world.community_a, world.grid_a):
        with django_assert_num_queries(1):
            names = area.full_name()
        assert names.split(" / ")[-1] == area.name and names.startswith(world.district.name)
    assert world.community_b.full_name() == " / ".join(
        [world.district.name, world.street.name, world.community_b.name]
    )
    # Asked again of the same instance (a page asks three times): no query.
    with django_assert_num_queries(0):
        assert household.ancestors_and_self() == nodes
    # A place renamed is read as it is now by the next request's instance; an
    # instance whose path changed reads its new path.
    Area.objects.filter(pk=world.street.pk).update(name="新街道")
    assert "/ 新街道 /" in Area.objects.get(pk=household.pk).full_name()
    household.path = world.community_b.path
    household.depth = world.community_b.depth
    assert household.full_name().endswith(world.community_b.name)
    assert Area(name="未保存", level=Level.HOUSEHOLD).ancestors_and_self() == []
