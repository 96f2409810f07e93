"""Two app server processes on one PostgreSQL (a second machine, or a second gunicorn
behind the same proxy): submissions through both, some of them the same submission sent
to both at once; then two task workers draining the queue at the same moment (each new
demand's job tells its dispatchers), and the deadline sweep run by two processes at the
same moment.

Every demand is there once, its dispatchers are told once, every escalation happens
once."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live.conftest import pg_run_only
from tests.live.server import PYTHON, ROOT, SUBMIT, Outcome, free_port

pytestmark = [pytest.mark.live, pg_run_only]

SINGLES = 160  # distinct submissions, spread over both servers and both intakes
PAIRS = 40  # the same submission to both servers at once
CLIENTS = 12


def submit_pair(servers, seed, kind: str, token: str) -> list[Outcome]:
    """The same submission (same token) to both servers, the POSTs lined up by a barrier:
    what a double click through a load balancer, or a retrying hotline, does."""
    barrier = threading.Barrier(2)

    def line_up() -> None:
        # The other half failed early (a broken barrier): send anyway.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)

    results: list[Outcome | BaseException | None] = [None, None]

    def half(i: int) -> None:
        name, base = servers[i]
        try:
            results[i] = SUBMIT[kind](base, name, seed, token, f"同一提交 {token}", sync=line_up)
        except BaseException as e:
            barrier.abort()
            results[i] = e

    other = threading.Thread(target=half, args=(1,))
    other.start()
    half(0)
    other.join(timeout=60)
    assert not other.is_alive(), "a request hung"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


RACE = """
import time
from pathlib import Path
from django.core.management import call_command
from django.db import connection
connection.ensure_connection()
Path(READY).touch()
deadline = time.monotonic() + 30
while not Path(GO).exists() and time.monotonic() < deadline:
    time.sleep(0.002)
call_command(NAME, *ARGS, **OPTIONS)
"""
SWEEP_COMMAND = ("run_scheduler", [], {"once": True})
# The task worker of the default queue, until the queue is empty (new jobs included).
WORKER_COMMAND = ("db_worker", [], {"batch": True, "queue_name": "default", "startup_delay": False})


def at_once(env, tmp_path, command=SWEEP_COMMAND, n: int = 2) -> list[str]:
    """A management command (by default ``run_scheduler --once``) in ``n`` processes,
    released together once all have started Django and connected (so the commands race,
    not the interpreters)."""
    name, args, options = command
    go = tmp_path / f"{name}-go"
    ready = [tmp_path / f"{name}-ready-{i}" for i in range(n)]
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                "manage.py",
                "shell",
                "-v0",
                "-c",
                f"READY={str(r)!r}; GO={str(go)!r}; NAME={name!r}; ARGS={args!r}; "
                f"OPTIONS={options!r}\n{RACE}",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 30
        while not all(r.exists() for r in ready):
            for p in procs:
                if p.poll() is not None:
                    raise AssertionError(f"a sweep process ended early:\n{p.communicate()[1]}")
            assert time.monotonic() < deadline, "the sweep processes did not start"
            time.sleep(0.01)
        go.touch()
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            outputs.append(out)
        return outputs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()


def test_two_app_servers_on_one_postgresql(live_pg, app_servers, tmp_path):
    env, seed, db = live_pg.env, live_pg.seed, live_pg.db
    a, b = app_servers("a"), app_servers("b")
    a.spawn(env, free_port())
    b.spawn(env, free_port())
    a.wait_ready()
    b.wait_ready()
    servers = [("a", a.url), ("b", b.url)]

    # --- submissions through both servers, both intakes, at once -----------------------
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        singles = [
            pool.submit(
                SUBMIT[("form", "api")[i % 2]],
                servers[(i // 2) % 2][1],
                servers[(i // 2) % 2][0],
                seed,
                f"single-{i:04d}-{'x' * 16}",
                f"诉求 {i}",
            )
            for i in range(SINGLES)
        ]
        pairs = [
            pool.submit(
                submit_pair, servers, seed, ("form", "api")[j % 2], f"pair-{j:04d}-{'y' * 16}"
            )
            for j in range(PAIRS)
        ]
        outcomes = [f.result(timeout=120) for f in singles]
        pair_outcomes = [f.result(timeout=120) for f in pairs]
    submit_seconds = time.monotonic() - started

    every = outcomes + [o for pair in pair_outcomes for o in pair]
    failed = [o for o in every if not o.ok]
    assert not failed, failed[:5]
    assert Counter(o.server for o in every) == {"a": 120, "b": 120}
    for first, second in pair_outcomes:
        # Both answers name the one demand; the API says it made it once (201, then 200).
        assert first.code == second.code, (first, second)
        if first.kind == "api":
            assert sorted([first.created, second.created]) == [False, True], (first, second)

    code_of_token = {o.token: o.code for o in every}
    assert len(code_of_token) == SINGLES + PAIRS
    assert len(set(code_of_token.values())) == SINGLES + PAIRS  # one code per submission

    snap = db.snapshot()
    assert len(snap.demands) == SINGLES + PAIRS, "a demand made twice, or one missing"
    assert set(snap.by_code()) == set(code_of_token.values())
    for pk in snap.demands:
        assert snap.kinds(pk) == ["submitted"], (pk, snap.events.get(pk))
        assert snap.announced[pk] == 1, pk  # one job to tell the dispatchers
    assert not snap.announced[None], "announce jobs of demands that are not there"

    # --- two workers drain the queue at once: each job runs once -------------------------
    at_once(env, tmp_path, WORKER_COMMAND)
    snap = db.snapshot()
    assert not snap.undelivered, sorted(snap.undelivered)[:5]
    for pk in snap.demands:
        assert snap.announce_done[pk] == 1, pk
        assert snap.notifications[pk] == 1, pk  # the community's responsible person

    # --- the sweep, from two processes at the same moment -------------------------------
    due = db.execute("UPDATE demands_demand SET deadline = now() - interval '1 hour'")
    assert due == SINGLES + PAIRS
    started = time.monotonic()
    outputs = at_once(env, tmp_path)
    sweep_seconds = time.monotonic() - started
    counts = [int(re.search(r"(\d+)\s*件", out).group(1)) for out in outputs]
    assert sum(counts) == due, outputs

    snap = db.snapshot()
    for pk, demand in snap.demands.items():
        escalations = [e for e in snap.events[pk] if e[1] == "escalated"]
        assert len(escalations) == 1, (pk, snap.events[pk])
        assert escalations[0][2] == 2 and demand["tier"] == 2, (pk, demand, escalations)
        assert snap.kinds(pk) == ["submitted", "escalated"]
        # New: the T2 handler (the community's responsible person) and the street's.
        assert snap.notifications[pk] == 1 + 2, pk
    (still_due,) = db.query("SELECT COUNT(*) FROM demands_demand WHERE deadline <= now()")[0]
    assert still_due == 0

    print(
        f"\n{len(every)} submissions in {submit_seconds:.1f}s; "
        f"sweeps escalated {counts} in {sweep_seconds:.1f}s"
    )
