"""The indexes kept only where their column is set (migrations 0014–0016): a new row
without the value writes no entry, and a query naming a value still uses the index,
on SQLite and on PostgreSQL."""

from __future__ import annotations

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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # makes sqlite_stat1
        cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'demands_demand'")
        for index, stat in DISTRICT_STATS.items():
            cursor.execute(
                "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('demands_demand', %s, %s)",
                [index, stat],
            )
        cursor.execute("ANALYZE sqlite_schema")  # the planner reads them again
    try:
        plan = _plan(f"SELECT COUNT(*) FROM ({sql})", list(params))
    finally:  # the connection's planner keeps them past the test's rollback otherwise
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_stat1")
            cursor.execute("ANALYZE sqlite_schema")
    assert "COVERING INDEX demand_work_lights (community_id=? AND state=? AND deadline>?)" in plan
