"""Two party members press 接单 on the same pool order at the same moment: exactly one
gets it, the other is told somebody was quicker, and the ledger says it once.

Each claimant runs in its own thread, so with its own database connection and its
own transaction; a barrier lets both call ``actions.claim_demand`` at once."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, connections

from tongxin.accounts.models import UserRole
from tongxin.demands import actions
from tongxin.demands.models import Demand, DemandEvent, EventKind, State
from tongxin.demands.testing import submit
from tongxin.testing import make_user

ROUNDS = 20
GONE = "该诉求已被他人接单或已不在待接单状态。"


def claim_at_once(demand: Demand, users: list) -> list:
    """Each user claims ``demand`` in a thread of their own; returns, per user, the
    claimed demand or the exception raised."""
    barrier = threading.Barrier(len(users))
    results: list = [None] * len(users)

    def claim(i: int, user) -> None:
        try:
            connection.ensure_connection()  # connect first, so the race is the UPDATE
            barrier.wait(timeout=10)
            results[i] = actions.claim_demand(Demand(pk=demand.pk), by=user)
        except Exception as e:  # an ActionError expected; anything else fails below
            results[i] = e
        finally:
            connections.close_all()  # this thread's connections only

    threads = [threading.Thread(target=claim, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a claim hung"
    return results


def run_rounds(world) -> None:
    rivals = [world.party_member_a, make_user("pm2", UserRole.PARTY_MEMBER, world.community_a)]
    for n in range(ROUNDS):
        order = submit(world.household_a1, title=f"第{n}单")
        actions.dispatch_demand(order, by=world.worker_a, to_pool=True)
        results = claim_at_once(order, rivals)
        winners = [r for r in results if isinstance(r, Demand)]
        losers = [r for r in results if isinstance(r, actions.ActionError)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert losers[0].message == GONE
        order.refresh_from_db()
        assert order.state == State.ACCEPTED and order.handler_id == winners[0].handler_id
        assert DemandEvent.objects.filter(demand=order, kind=EventKind.CLAIMED).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent transactions on PostgreSQL; run with DATABASE_URL=postgres://…",
)
@pytest.mark.django_db(transaction=True)
def test_it_gives_a_pool_order_to_exactly_one_of_two_concurrent_claims(world):
    run_rounds(world)


@contextmanager
def on_a_file(path: Path):
    """The SQLite test database is in memory with a shared cache, where a second writer
    is refused at once ("table is locked") instead of waiting its turn. A deployment
    keeps SQLite in a file, in WAL mode with IMMEDIATE transactions (settings.py): copy
    the test database to a file and let this thread and new ones use that."""
    memory = connections["default"]
    memory.ensure_connection()
    copy = sqlite3.connect(path)
    memory.connection.backup(copy)
    copy.close()
    in_memory_settings = connections.settings["default"]
    connections.settings["default"] = {**in_memory_settings, "NAME": str(path)}
    on_file = connections.create_connection("default")
    connections["default"] = on_file
    try:
        yield
    finally:
        on_file.close()
        connections.settings["default"] = in_memory_settings
        connections["default"] = memory


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite variant of the race")
@pytest.mark.django_db(transaction=True)
def test_it_gives_one_winner_on_sqlite_too(world, tmp_path):
    """SQLite lets one writer in at a time; the second claim must still find it gone."""
    with on_a_file(tmp_path / "race.sqlite3"):
        assert connection.settings_dict["NAME"].endswith("race.sqlite3")
        run_rounds(world)
