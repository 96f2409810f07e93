"""The key the SQL of a demand's page and the ledger's pages is kept under
(Scope.demands_key, core.prepared) tells apart every two users whose demands differ:
a key shared by two different queries would show one user another's rows."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.http import Http404

from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import get_demand_for, scope_for
from tongxin.demands import ledger
from tongxin.demands.models import Demand
from tongxin.testing import make_user


def _sql(queryset) -> tuple:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


@pytest.fixture
def everyone(world) -> list[User]:
    """The world's users and one of every other kind of scope."""
    extra = [
        make_user("nobody", UserRole.COMMUNITY_WORKER, None),
        make_user("cadre_b", UserRole.CADRE, world.community_b),
        make_user("estate_worker", UserRole.GRID_WORKER, world.building_a),
        make_user("party_b", UserRole.PARTY_MEMBER, world.community_b),
        make_user("resident_b", UserRole.RESIDENT, None, resident=world.resident_b1),
        make_user("admin2", UserRole.ADMIN, None),
    ]
    return [*world.users().values(), *extra]


def test_equal_keys_only_for_equal_queries(everyone):
    keys = {}
    for user in everyone:
        key = scope_for(user).demands_key(user)
        sql = _sql(scope_for(user).demands(user))
        keys.setdefault(key, set()).add(sql)
    assert all(len(queries) == 1 for queries in keys.values()), keys
    # Every user but the two administrators has demands of their own (those they handle).
    assert len(keys) == len(everyone) - 1


def test_a_user_moved_to_another_area_gets_another_key(world):
    before = scope_for(world.worker_a).demands_key(world.worker_a)
    world.worker_a.area = world.community_b
    world.worker_a.save()
    user = User.objects.get(pk=world.worker_a.pk)
    assert scope_for(user).demands_key(user) != before


def test_the_unfiltered_ledger_depends_on_nothing_but_the_scope(world):
    """Its SQL is kept by the scope's key alone: not the time it was asked at."""
    user = world.street_office
    scope = scope_for(user)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    queries = {
        _sql(ledger.for_page(ledger.LedgerFilter().apply(scope.demands(user), moment)))
        for moment in (now, now + dt.timedelta(days=400))
    }
    assert len(queries) == 1


def test_each_user_opens_exactly_the_demands_of_their_scope(everyone, world):
    from tongxin.demands.testing import submit

    demands = [submit(area) for area in (world.household_a1, world.household_b1)]
    # One handled by a party member of the other community: theirs to open too.
    Demand.objects.filter(pk=demands[1].pk).update(handler=world.party_member_a)
    for user, demand in itertools.product(everyone, demands):
        allowed = scope_for(user).demands(user).filter(pk=demand.pk).exists()
        for _ in range(2):  # the first builds the SQL, the second only runs it
            if allowed:
                assert get_demand_for(user, demand.pk) == demand
            else:
                with pytest.raises(Http404):
                    get_demand_for(user, demand.pk)
    with pytest.raises(Http404):
        get_demand_for(world.admin, max(d.pk for d in demands) + 1)
    assert get_demand_for(world.party_member_a, demands[1].pk) == demands[1]
