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
