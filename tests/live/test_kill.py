"""What survives a crash: demands are sent to a running server by several clients, the
server (master and workers) is killed with SIGKILL in the middle, started again on the
same database, and then:

- every demand that got a success answer is there, with its SUBMITTED event and the
  job that tells the community's responsible person;
- nothing is half-written: every demand in the database has exactly that first event
  and that job (one a client never heard about included);
- the SQLite file passes ``PRAGMA integrity_check``;
- the restarted server answers and takes a new demand.

A request that was cut off by the kill (connection refused, reset, closed without an
answer) is not a success: its demand may or may not be there, but never half of it."""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from tests.live.conftest import pg_run_only, sqlite_run_only
from tests.live.server import SUBMIT, free_port

pytestmark = pytest.mark.live

CLIENTS = 8
KILL_AFTER = 80  # success answers before the kill


class Hammer:
    """Client threads submitting demands one after another until stopped; each keeps
    what it was told."""

    def __init__(self, server, seed) -> None:
        self.server, self.seed = server, seed
        self.lock = threading.Lock()
        self.acked: dict[str, str] = {}  # token -> tracking code, success answers only
        self.cut_off: list[tuple[str, str]] = []  # (token, error): outcome unknown
        self.refused: list[tuple[str, int | None, str]] = []  # an answer, but not success
        self.in_flight = 0
        self.enough = threading.Event()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(CLIENTS)]

    def run(self, i: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            kind = "form" if n % 3 == 0 else "api"
            token = f"kill-{i}-{n:05d}-{'z' * 16}"
            with self.lock:
                self.in_flight += 1
            try:
                out = SUBMIT[kind](self.server.url, "k", self.seed, token, f"诉求 {i}-{n}")
            except (OSError, http.client.HTTPException) as e:
                # Cut off (refused, reset, or an answer that stops half-way, as when the
                # kill lands while it is written): unknown, never counted as a success.
                with self.lock:
                    self.cut_off.append((token, repr(e)))
                return  # the server is gone; this client stops
            finally:
                with self.lock:
                    self.in_flight -= 1
            with self.lock:
                if out.ok:
                    self.acked[token] = out.code
                    if len(self.acked) >= KILL_AFTER:
                        self.enough.set()
                else:
                    self.refused.append((token, out.status, out.error))

    def __enter__(self) -> Hammer:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a client hung"


def check_complete(snap, acked_codes: set[str]) -> None:
    by_code = snap.by_code()
    lost = acked_codes - set(by_code)
    assert not lost, f"acknowledged but not stored: {sorted(lost)[:10]}"
    for pk in snap.demands:
        # The first event and the announce job are written in the demand's own
        # transaction (no worker runs here: nobody has been told yet).
        assert snap.kinds(pk) == ["submitted"], (pk, snap.events.get(pk))
        assert snap.announced[pk] == 1, (pk, snap.announced[pk])
    assert not snap.undelivered, f"messages without a delivery job: {sorted(snap.undelivered)}"
    assert not snap.announced[None], "announce jobs of demands that are not there"
    orphans = set(snap.events) - set(snap.demands)
    assert not orphans, f"events of demands that are not there: {sorted(orphans)[:10]}"


def kill_in_the_middle(live, app_servers) -> None:
    env, seed, db = live.env, live.seed, live.db
    server = app_servers("k")
    port = free_port()
    server.start(env, port)

    started = time.monotonic()
    with Hammer(server, seed) as hammer:
        assert hammer.enough.wait(timeout=60), (
            f"only {len(hammer.acked)} success answers; refused: {hammer.refused[:3]}"
        )
        with hammer.lock:
            in_flight_at_kill = hammer.in_flight
        server.kill()
        killed_after = time.monotonic() - started
    assert not hammer.refused, hammer.refused[:5]  # before the kill every answer is a success
    assert in_flight_at_kill > 0, "nothing was in flight: the kill proved nothing"

    if db.vendor == "sqlite":
        # Opened before any server touches it again: SQLite recovers the WAL here.
        assert db.query("PRAGMA integrity_check") == [("ok",)]
        assert db.query("PRAGMA foreign_key_check") == []

    snap = db.snapshot()
    check_complete(snap, set(hammer.acked.values()))
    unheard = len(snap.demands) - len(hammer.acked)
    assert 0 <= unheard <= len(hammer.cut_off)

    # Up again on the same database and the same port: it answers and takes demands.
    server.start(env, port)
    after = [
        SUBMIT[kind](server.url, "k", seed, f"after-{kind}-{'w' * 20}", "重启后的诉求")
        for kind in ("api", "form")
    ]
    assert all(o.ok for o in after), after
    server.stop()

    snap = db.snapshot()
    check_complete(snap, set(hammer.acked.values()) | {o.code for o in after})
    assert len(snap.demands) == len(hammer.acked) + unheard + 2
    if db.vendor == "sqlite":
        assert db.query("PRAGMA integrity_check") == [("ok",)]
    print(
        f"\n{db.vendor}: killed after {killed_after:.1f}s with {in_flight_at_kill} request(s) "
        f"in flight; {len(hammer.acked)} acknowledged, {len(hammer.cut_off)} cut off, "
        f"{unheard} stored without an answer"
    )


@sqlite_run_only
def test_a_killed_server_loses_no_acknowledged_demand_on_sqlite(live_sqlite, app_servers):
    kill_in_the_middle(live_sqlite, app_servers)


@pg_run_only
def test_a_killed_server_loses_no_acknowledged_demand_on_postgresql(live_pg, app_servers):
    kill_in_the_middle(live_pg, app_servers)
