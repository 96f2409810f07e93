"""The indexes kept only where their column is set (migrations 0014–0016): a new row
without the value writes no entry, and a query naming a value still uses the index,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import connection

from tongxin.demands.models import Demand, DemandEvent

PARTIAL = [
    (DemandEvent, "actor_id", "event_actor"),
    (Demand, "reporter_id", "demand_reporter"),
    (Demand, "entered_by_id", "demand_entered_by"),
    (Demand, "handler_unit_id", "demand_handler_unit"),
    (Demand, "department_id", "demand_department"),
    (Demand, "merged_into_id", "demand_merged_into"),
]


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a test's tables are small
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(part) for row in cursor.fetchall() for part in row)


@pytest.mark.parametrize(("model", "column", "index"), PARTIAL)
def test_a_value_is_looked_up_by_the_index_kept_where_set(db, model, column, index):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints[index]["columns"] == [column]
    # Not the foreign key's own index on every row: that one is gone.
    assert not [
        name
        for name, c in constraints.items()
        if c["index"] and c["columns"] == [column] and name != index
    ]
    assert index in _plan(f'SELECT id FROM "{table}" WHERE "{column}" = %s', [1])
    # A deleted user's or row's references set to NULL, as Django's collector does it.
    assert index in _plan(
        f'UPDATE "{table}" SET "{column}" = NULL WHERE "{column}" IN (%s, %s)', [1, 2]
    )


def test_a_handlers_open_demands_are_counted_in_the_index(db):
    """The handler with the state and the community (0016, 0018): the count of each
    suggested handler's open demands reads the index alone, whatever else the handler
    ever had; so do a staff member's open demands within their area and outside it."""
    from django.db.models import Count

    from tongxin.demands.models import OPEN_STATES

    table = Demand._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert constraints["demand_handler_open"]["columns"] == ["handler_id", "state", "community_id"]
    assert "demand_handler" not in constraints and "demand_handler_state" not in constraints
    assert not [n for n, c in constraints.items() if c["index"] and c["columns"] == ["handler_id"]]
    loads = (
        Demand.objects.filter(handler_id__in=[1, 2], state__in=OPEN_STATES)
        .values_list("handler_id")
        .annotate(n=Count("id"))
    )
    sql, params = loads.query.sql_with_params()
    plan = _plan(sql, list(params))
    assert "demand_handler_open" in plan
    if connection.vendor == "sqlite":
        assert "handler_id=? AND state=?" in plan, plan  # both columns, not the handler's all
    communities = [3, 4, 5]
    mine = Demand.objects.filter(handler_id=1, state__in=OPEN_STATES)
    for part in (
        mine.filter(community_id__in=communities),
        mine.exclude(community_id__in=communities),
    ):
        sql, params = part.order_by().values("pk").query.sql_with_params()
        plan = _plan(f"SELECT COUNT(*) FROM ({sql}) AS counted", list(params))
        assert "demand_handler_open" in plan, plan
        # From the index alone, never the rows.
        assert ("COVERING INDEX" if connection.vendor == "sqlite" else "Index Only Scan") in plan
    # A deleted user's demands set to no handler, as Django's collector does it: found
    # by either index of the handler.
    plan = _plan(f'UPDATE "{table}" SET "handler_id" = NULL WHERE "handler_id" IN (%s, %s)', [1, 2])
    assert "demand_handler_open" in plan or "demand_handler_recent" in plan, plan


# sqlite_stat1 of demands_demand at a district's million demands (bench/run --keep).
DISTRICT_STATS = {
    "demand_handler_recent": "973618 5380 1 1",
    "demand_handler_open": "973618 5380 675 675",
    "demand_work_warn": "1000000 16667 1852 1",
    "demand_work_lights": "1000000 16667 1852 1 1",
    "demands_dem_communi_0809af_idx": "1000000 16667 1",
    "demands_dem_communi_58648a_idx": "1000000 16667 1",
    "demands_dem_state_7cdf7f_idx": "1000000 111112 1",
    "demand_keyset": "1000000 1 1",
    "demands_demand_area_id_0d392563": "1000000 432",
    "demands_demand_category_id_605cc409": "1000000 71429",
}
# ... and of the district's areas.
DISTRICT_AREA_STATS = {
    "areas_area_level_d33873_idx": "117714 19619 1",
    "sqlite_autoindex_areas_area_1": "117714 1",
}


def test_a_districts_yellow_count_reads_the_index_alone(db):
    """黄灯 (open, warning time come, deadline not yet) over a district's communities:
    counted in the index of the community, state, deadline and warning time (0019).
    SQLite took the index (state, deadline) and read the row of every open demand not
    yet due; PostgreSQL did the same through (community, state, deadline)."""
    from django.utils import timezone

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Demand._meta.db_table)
    assert constraints["demand_work_lights"]["columns"] == [
        "community_id",
        "state",
        "deadline",
        "warn_at",
    ]
    assert "demand_work_deadline" not in constraints
    yellow = Demand.objects.filter(community_id__in=list(range(3, 63))).warning(timezone.now())
    sql, params = yellow.order_by().values("pk").query.sql_with_params()
    if connection.vendor != "sqlite":
        return  # PostgreSQL's choice needs a district's statistics (bench/README)
    with district_statistics():
        plan = _plan(f"SELECT COUNT(*) FROM ({sql})", list(params))
    assert "COVERING INDEX demand_work_lights (community_id=? AND state=? AND deadline>?)" in plan


@contextmanager
def district_statistics():
    """SQLite's planner with a district's sqlite_stat1 for the demands and the areas."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # makes sqlite_stat1
        for table, stats in (
            ("demands_demand", DISTRICT_STATS),
            ("areas_area", DISTRICT_AREA_STATS),
        ):
            cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = %s", [table])
            for index, stat in stats.items():
                cursor.execute(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (%s, %s, %s)",
                    [table, index, stat],
                )
        cursor.execute("ANALYZE sqlite_schema")  # the planner reads them again
    try:
        yield
    finally:  # the connection's planner keeps them past the test's rollback otherwise
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_stat1")
            cursor.execute("ANALYZE sqlite_schema")


def test_a_page_of_a_streets_closed_demands_walks_the_ledgers_index(world):
    """已回访, where every demand ends (95 % of a district's million): a page of them is
    read along the ledger's own index, newest first, 31 rows. SQLite, which keeps no
    count per value, fetched every closed demand of the street by the index of community
    and state and sorted them (a district: 2.1 s a page, a street 0.3 s)."""
    from django.utils import timezone

    from tongxin.accounts.scope import scope_for
    from tongxin.demands import ledger
    from tongxin.demands.models import State

    user, now = world.street_office, timezone.now()
    (part,) = scope_for(user).page_parts(user)
    closed = ledger.LedgerFilter(state=State.CLOSED)
    page = ledger.for_page(closed.apply(part, now, paged=True)).order_by("-created_at", "-id")
    # The same rows as the plain filter, counted the plain way.
    assert list(page[:31]) == list(
        part.filter(state=State.CLOSED).order_by("-created_at", "-id")[:31]
    )
    assert "likelihood" not in str(closed.apply(part, now).query)
    if connection.vendor != "sqlite":
        return  # PostgreSQL keeps a count per value
    sql, params = page[:31].query.sql_with_params()
    with district_statistics():
        plan = _plan(sql, list(params))
    assert "demand_keyset" in plan and "MULTI-INDEX OR" not in plan, plan
