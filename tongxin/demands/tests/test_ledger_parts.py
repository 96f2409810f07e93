"""A staff member's ledger read a part of their scope at a time (Scope.page_parts,
ledger.page_of): the demands of their community and those they handle elsewhere, each
down its own index, merged into the same pages the one OR query gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from tongxin.accounts.scope import scope_for
from tongxin.demands import actions, ledger
from tongxin.demands.testing import submit

SH = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=SH)


@pytest.fixture
def mixed(world):
    """Demands of community A (worker_a's), of community B, and of B handled by
    worker_a; some at the same moment, so the id breaks the tie."""
    made = []
    for i in range(7):
        at = START + dt.timedelta(hours=i // 2)  # pairs at the same time
        made.append(submit(world.household_a1, title=f"A{i}", now=at))
        b = submit(world.household_b1, title=f"B{i}", now=at + dt.timedelta(minutes=1))
        if i % 3 == 0:
            actions.dispatch_demand(b, by=world.worker_b, to_user=world.worker_a)
        made.append(b)
    return made


def _walk(parts, size):
    """Every page forward, then every page back from the last."""
    forward, cursor = [], None
    while True:
        page = ledger.page_of(parts, cursor, size)
        forward.append([d.pk for d in page.rows])
        if not page.next:
            break
        cursor = ledger.Cursor.decode(page.next)
    backward = [forward[-1]]
    while page.previous:
        page = ledger.page_of(parts, ledger.Cursor.decode(page.previous), size)
        backward.append([d.pk for d in page.rows])
    return forward, backward[::-1]


def test_the_parts_give_the_pages_of_the_whole_scope(world, mixed):
    user = world.worker_a
    scope = scope_for(user)
    parts = scope.page_parts(user)
    assert len(parts) == 2
    whole = list(scope.demands(user).order_by("-created_at", "-id").values_list("pk", flat=True))
    handled_elsewhere = [d.pk for d in mixed if d.title.startswith("B") and d.pk in whole]
    assert len(handled_elsewhere) == 3 and len(whole) == 10
    for size in (1, 2, 3, 4, 30):
        forward, backward = _walk(parts, size)
        assert [pk for page in forward for pk in page] == whole, size
        assert backward == forward, size


def test_a_community_workers_ledger_lists_what_they_handle_elsewhere(client, world, mixed):
    """The page, as worker_a opens it: their community's demands and the three of
    community B they handle, newest first, and nothing else of B."""
    client.force_login(world.worker_a)
    body = client.get(reverse("demands:ledger")).content.decode()
    shown = sorted(
        (body.index(f">{d.title}</a>"), d.title) for d in mixed if f">{d.title}</a>" in body
    )
    expected = scope_for(world.worker_a).demands(world.worker_a).order_by("-created_at", "-id")
    assert [title for _at, title in shown] == [d.title for d in expected]
    assert {"B0", "B3", "B6"} <= {title for _at, title in shown}
    assert ">B1</a>" not in body


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the parts are read apart on SQLite")
def test_on_sqlite_each_part_is_read_down_an_index_in_the_ledgers_order(world, mixed):
    """The community's part walks its (community, created_at) index and stops after
    a page; the handler's walks demand_handler_recent. Their OR was read whole through
    two indexes and sorted ('MULTI-INDEX OR', a temporary B-tree)."""
    user = world.worker_a
    for part in scope_for(user).page_parts(user):
        sql, params = (
            ledger.for_page(part).order_by("-created_at", "-id")[:31].query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[3]) for row in cursor.fetchall())
        assert "TEMP B-TREE" not in plan and "MULTI-INDEX OR" not in plan, plan
