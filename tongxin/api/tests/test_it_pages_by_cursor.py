"""GET /demands by cursor: a client that goes through every demand follows next_cursor,
and each page seeks by keyset (created_at, id) instead of counting and skipping."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tongxin.accounts.scope import scope_for
from tongxin.demands.ledger import Cursor
from tongxin.demands.models import Demand, State
from tongxin.demands.testing import submit

from .conftest import body

INVALID = "翻页标记无效，请从第一页重新开始。"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def some_demands(api_world, n: int = 10) -> None:
    """``n`` more demands, in both communities, in runs of four sharing a created_at:
    with a page of three, ties fall across the pages' ends."""
    w = api_world.world
    for i in range(n):
        d = submit(w.household_a2 if i % 3 else w.household_b1, title=f"诉求{i}")
        Demand.objects.filter(pk=d.pk).update(created_at=START + dt.timedelta(hours=i // 4))


def in_order(demands) -> list[int]:
    return list(demands.order_by("-created_at", "-id").values_list("pk", flat=True))


def follow(api_world, who: str, **filters) -> tuple[list[int], list[dict]]:
    """Every id from the first page to the last by next_cursor, and the pages."""
    pages = [body(api_world.get(who, "/demands", page_size=3, **filters))]
    while pages[-1]["next_cursor"] is not None:
        assert len(pages) < 50, "next_cursor never ends"
        cursor = pages[-1]["next_cursor"]
        response = api_world.get(who, "/demands", page_size=3, cursor=cursor, **filters)
        assert response.status_code == 200, response.content
        pages.append(body(response))
    return [item["id"] for page in pages for item in page["items"]], pages


def test_following_next_cursor_gives_every_demand_once_in_order(api_world):
    some_demands(api_world)
    every = in_order(Demand.objects.all())
    assert len(every) == 12 and Demand.objects.filter(created_at=START).count() == 4
    got, pages = follow(api_world, "admin")
    assert got == every
    # The first page counts and numbers itself, as before; the others by cursor do not.
    first, *rest = pages
    assert (first["count"], first["page"], first["next_page"]) == (12, 1, 2)
    assert len(rest) == 3
    assert all((p["count"], p["page"], p["next_page"]) == (None, None, None) for p in rest)
    assert all(len(p["items"]) == 3 for p in pages)
    # A page by number gives the cursor of the page after it too.
    second = body(api_world.get("admin", "/demands", page_size=3, page=2))
    assert second["count"] == 12 and second["next_page"] == 3
    after = body(api_world.get("admin", "/demands", page_size=3, cursor=second["next_cursor"]))
    assert [i["id"] for i in after["items"]] == every[6:9]
    # The last page by number has none.
    assert body(api_world.get("admin", "/demands", page_size=3, page=4))["next_cursor"] is None


def test_a_cursor_combines_with_the_filters(api_world):
    some_demands(api_world)
    w = api_world.world
    wanted = Demand.objects.filter(title__in=[f"诉求{i}" for i in (0, 1, 2, 3, 4, 7, 8)])
    wanted.update(state=State.IN_PROGRESS)
    got, pages = follow(api_world, "admin", state="in_progress")
    assert got == in_order(wanted) and len(pages) == 3
    assert pages[0]["count"] == 7
    got, pages = follow(api_world, "admin", state="in_progress", community=w.community_a.pk)
    assert got == in_order(wanted.filter(community=w.community_a)) and len(pages) == 2
    got, _pages = follow(api_world, "admin", since=START.date(), until=START.date())
    assert got == in_order(Demand.objects.filter(title__startswith="诉求"))


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "not:a:cursor",
        "x" * 500,
        "\u540c\u5fc3",
        # A cursor of the ledger page's way back: the API only goes forwards.
        "backwards",
        # A good one with its last character changed.
        "tampered",
    ],
)
def test_it_refuses_a_cursor_it_did_not_make(api_world, cursor):
    good = Cursor.of(api_world.demand_a).encode()
    cursor = {
        "backwards": Cursor.of(api_world.demand_a, backwards=True).encode(),
        "tampered": good[:-1] + ("A" if good[-1] != "A" else "B"),
    }.get(cursor, cursor)
    response = api_world.get("admin", "/demands", cursor=cursor)
    assert response.status_code == 422, response.content
    assert body(response)["error"] == {"code": "invalid", "message": INVALID, "details": []}


def test_it_refuses_a_page_number_with_a_cursor(api_world):
    cursor = Cursor.of(api_world.demand_b).encode()
    response = api_world.get("admin", "/demands", cursor=cursor, page=2)
    assert response.status_code == 422, response.content
    assert body(response)["error"]["message"] == "使用翻页标记（cursor）时不能再指定页码（page）。"
    # Page 1 is where a cursor starts anyway, and an empty cursor is none.
    assert api_world.get("admin", "/demands", cursor=cursor, page=1).status_code == 200
    assert body(api_world.get("admin", "/demands", cursor=""))["count"] == 2


def cursor_page(api_world, cursor: str) -> tuple[list[str], dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = api_world.get("admin", "/demands", page_size=3, cursor=cursor)
    assert response.status_code == 200, response.content
    return [q["sql"] for q in ctx.captured_queries], body(response)


def test_a_cursor_page_neither_counts_nor_skips_and_costs_the_same_however_many(api_world):
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        some_demands(api_world, 4)
        first = body(api_world.get("admin", "/demands", page_size=3))  # the minute's upkeep
        few, page = cursor_page(api_world, first["next_cursor"])
        assert len(page["items"]) == 3
        some_demands(api_world, 30)
        first = body(api_world.get("admin", "/demands", page_size=3))
        many, page = cursor_page(api_world, first["next_cursor"])
        assert len(page["items"]) == 3 and page["next_cursor"]
    for sql in few + many:
        assert "COUNT(" not in sql.upper(), sql
        assert "OFFSET" not in sql.upper(), sql
    # The limiter (the key's count, and the address's failed keys, in one statement),
    # the key with its user and area (on PostgreSQL read in that same statement), the
    # page.
    assert len(few) == len(many) == (2 if connection.vendor == "postgresql" else 3), many


@pytest.mark.parametrize("who", ["worker_a", "worker_b", "grid_worker_a", "resident_user_a"])
def test_a_cursor_stays_within_the_scope(api_world, who):
    some_demands(api_world)
    user = api_world.world.users()[who]
    scope = scope_for(user).demands(user)
    got, _pages = follow(api_world, who)
    assert got == in_order(scope) and got
    # A cursor taken from somebody else's list only seeks: it opens nothing more.
    _every, pages = follow(api_world, "admin")
    for page in pages[:-1]:
        cursor = page["next_cursor"]
        response = api_world.get(who, "/demands", page_size=100, cursor=cursor)
        got = [i["id"] for i in body(response)["items"]]
        assert got == in_order(scope.filter(Cursor.decode(cursor).after()))
