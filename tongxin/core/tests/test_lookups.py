"""Lookups that write their values into the SQL (tongxin/core/lookups.py)."""

import pytest

from tongxin.areas.models import Area, Level
from tongxin.people.views import filter_places


def test_whole_numbers_are_written_into_the_sql(db):
    qs = Area.objects.filter(level__constant_in=[Level.COMMUNITY, Level.ESTATE])
    sql, params = qs.query.sql_with_params()
    assert '"level" IN (30, 40)' in sql and params == ()


@pytest.mark.parametrize("bad", [[], [True], ["30"], [30, "40); DROP TABLE x; --"], 30])
def test_nothing_but_whole_numbers_reaches_the_sql(db, bad):
    with pytest.raises(TypeError):
        str(Area.objects.filter(level__constant_in=bad).query)


def test_they_find_what_in_finds(world):
    levels = [Level.COMMUNITY, Level.BUILDING]
    assert set(Area.objects.filter(level__constant_in=levels)) == set(
        Area.objects.filter(level__in=levels)
    )


def test_the_registers_places_name_their_levels_in_the_sql(world):
    # With the levels as parameters, PostgreSQL's generic plan read a district's 117,000
    # areas along the path index for the register's place filter (30 ms, not 0.1).
    from tongxin.accounts.scope import scope_for

    sql, params = filter_places(scope_for(world.street_office)).query.sql_with_params()
    assert '"level" IN (30, 40, 50)' in sql
    assert not {30, 40, 50} & {p for p in params if isinstance(p, int)}


def test_a_common_value_finds_what_equality_finds(world):
    from django.db import connection

    from tongxin.demands.models import Demand, State
    from tongxin.demands.testing import submit

    submit(world.household_a1, title="仁和的诉求")
    for state in (State.SUBMITTED, State.CLOSED):
        common = Demand.objects.filter(state__common=state)
        assert list(common) == list(Demand.objects.filter(state=state))
        sql = str(common.query)
        # SQLite is told most rows have it; elsewhere a plain equality.
        assert ("likelihood(" in sql) == (connection.vendor == "sqlite")
