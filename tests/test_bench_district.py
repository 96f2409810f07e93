"""The benchmark's district (bench/district.py) has the open work of a district that keeps
up, so that the pages measured at a million demands are measured on what a district has:
the generator is run small, in a process of its own on a SQLite file of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TONGXIN_DATA_DIR")}
    env["BENCH_GEN_PROCESSES"] = "2"
    done = subprocess.run(
        [
            sys.executable,
            "bench/district.py",
            "--residents",
            "3000",
            "--demands",
            "40000",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_open_work_is_the_last_months(generated):
    work = generated["open_work"]
    # Open work at every tier, a few at the dispatch meeting, some deferred (缓办).
    assert all(work["by_tier"][t] > 0 for t in "1234"), work
    assert work["by_tier"]["4"] < work["by_tier"]["2"] < work["by_tier"]["1"], work
    assert 0 < work["postponed"] < work["open"], work
    # Nothing open from years ago: overdue work is moved up and done within months, and
    # 缓办 is taken up again within the year.
    assert work["oldest_open_days"] <= 180, work
    assert work["oldest_postponed_days"] <= 180, work
    assert work["open"] < 0.03 * 40000, work


def test_a_resolved_demand_is_visited_within_days(generated):
    work = generated["open_work"]
    assert work["waiting_visit"] > 0, work
    # Visited an hour to two days after its resolution: none waits longer.
    assert work["longest_wait_for_a_visit_days"] <= 2.1, work


def test_the_sweep_has_moved_overdue_work_up_to_the_office_of_its_tier(generated):
    work = generated["open_work"]
    assert work["due_for_the_sweep"] == 0, work
    assert work["with_the_wrong_office"] == 0, work


def test_what_happened_is_spread_over_the_days_not_piled_on_the_last(generated):
    """A demand's steps that would fall after the moment of generation happened before
    it, spread over the time there was: the last day has as many events as any other
    (it had three times as many, all in its last minute, and some were in the future)."""
    work = generated["open_work"]
    assert work["events_ahead"] == 0, work
    assert 0.5 < work["last_day_events_ratio"] < 1.5, work


def test_the_database_is_left_in_wal_mode(generated):
    # The load runs without a journal (as without waiting for the disk); Tongxin's
    # SQLite runs in WAL mode, and the database is left so.
    assert generated["journal_mode"] == "wal"
