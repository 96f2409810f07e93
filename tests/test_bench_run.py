"""bench/run.py's CPU split under load: each process's CPU counted once, where it belongs."""

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_run():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_is_split_between_workers_wrk_the_database_and_the_rest():
    run = load_run()
    tick = 1000 / os.sysconf("SC_CLK_TCK")  # ms a jiffy
    before = {
        10: ("gunicorn", 1, 100),  # the master
        11: ("gunicorn", 10, 500),  # a worker
        12: ("gunicorn", 10, 700),
        20: ("postgres", 1, 40),
        30: ("kworker/u8:1-events", 2, 5),
    }
    after = {
        10: ("gunicorn", 1, 101),
        11: ("gunicorn", 10, 600),
        12: ("gunicorn", 10, 800),
        13: ("gunicorn", 10, 50),  # a worker started during the run: all of it
        20: ("postgres", 1, 60),
        21: ("postgres", 20, 20),
        # A kernel worker renamed by its next job is the same process.
        30: ("kworker/u8:1-flush", 2, 9),
    }
    busy = 500  # jiffies the whole machine was busy
    split = run.cpu_split(before, after, 10, 100, wrk_ms=30 * tick, busy=busy)
    assert split == {
        "workers": 250 * tick / 100,
        "wrk": 30 * tick / 100,
        "database": 40 * tick / 100,
        "other": 5 * tick / 100,  # the master and the kernel worker
        "kernel": (500 - 250 - 30 - 40 - 5) * tick / 100,
    }
    # Per request and in ms.
    assert run.cpu_split({}, {11: ("gunicorn", 10, 7)}, 10, 7, 0.0, 7)["workers"] == tick


def test_the_results_name_where_each_write_requests_cpu_went():
    run = load_run()
    r = {
        "rows": {
            "hello": {
                "cpu_ms": {"workers": 0.5, "wrk": 0.1, "database": 0, "other": 0.01, "kernel": 0.02}
            },
            "intake_form": {
                "cpu_ms": {"workers": 2.5, "wrk": 0.1, "database": 0.4, "other": 0.0, "kernel": 0.0}
            },
            "ledger_first": {
                "cpu_ms": {"workers": 6.0, "wrk": 0.2, "database": 0, "other": 0, "kernel": 0}
            },
        }
    }
    assert (
        run.cpu_lines(r) == "hello 0.50 / 0.10 / 0.00 / 0.03; intake_form 2.50 / 0.10 / 0.40 / 0.00"
    )


def test_an_unreachable_postgresql_is_said_before_anything_is_measured():
    # Before: the SQLite half ran for minutes, then the PostgreSQL half failed on psql
    # and no table was printed.
    import subprocess
    import sys

    env = {**os.environ, "BENCH_PG_URL": "postgres://postgres@127.0.0.1:1/postgres"}
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--database", "both", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "PostgreSQL is not reachable at postgres://postgres@127.0.0.1:1/postgres" in done.stderr
    assert "bench/run --database sqlite" in done.stderr
    assert "== sqlite" not in done.stdout  # nothing was started


def _wrk(rps: float, p95: float = 10.0, status: str = "200", **extra) -> dict:
    requests = int(rps * 10)
    return {
        "rps": rps,
        "requests": requests,
        "seconds": 10.0,
        "p50": p95 / 2,
        "p95": p95,
        "p99": p95 * 1.5,
        "statuses": {status: requests},
        "errors": {"timeout": 0},
        "cpu_busy": 0.9,
        **extra,
    }


def _result() -> dict:
    reads = (
        "ledger_first",
        "ledger_deep",
        "ledger_community",
        "demand_page",
        "demand_new_page",
        "board_community",
        "board_street",
        "dashboard_street",
    )
    return {
        "vendor": "sqlite",
        "generation": {"demands": 1000, "events": 7000, "rate": 25000.0, "seconds": 0.04},
        "rows": {
            "hello": _wrk(3000.0, 3.0),
            "insert": _wrk(2000.0),
            "rows": _wrk(1100.0, created=11000),
            "intake_form": _wrk(800.0, status="302", created=8000),
            "intake_api": _wrk(600.0, status="201", created=6000),
            **{name: _wrk(400.0, 30.0) for name in reads},
        },
        "db_ceiling": {"rps": 20000.0},
        "sweep_small": {"seconds": 1.0, "table": 100, "due": 10, "escalated": 10},
        "sweep_large": {"seconds": 1.1, "table": 1000, "due": 10, "escalated": 10},
        "rss_start_kb": [100_000, 100_000],
        "rss_end_kb": [110_000, 110_000],
        "requests_served": 20000,
        "ledger_page": 1000,
    }


def test_an_intakes_rows_alone_are_a_reference_beside_the_ceiling():
    run = load_run()
    rows, missed = run.table([_result()])
    (line,) = [r for r in rows if "/bench/rows" in r[0]]
    name, figure, ceiling, ratio, goal, verdict = line
    assert name == "SQLite: an intake's three rows alone, /bench/rows"
    assert figure.startswith("1,100/s created") and ceiling == "2,000/s /bench/insert"
    assert ratio == "0.55" and verdict == "—" and goal.startswith("(reference")
    # Only the two intakes miss their goal; the reference row is no goal.
    assert missed == 2
    # A result from before /bench/rows existed still makes a table, without the row.
    old = _result()
    del old["rows"]["rows"]
    rows, missed = run.table([old])
    assert not [r for r in rows if "/bench/rows" in r[0]] and missed == 2
