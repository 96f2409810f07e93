"""Every benchmark of the issue in one command, on SQLite and on PostgreSQL (not a test).

    bench/run [--database sqlite|postgres|both] [--demands 1000000] [--quick] [--keep]
              [--out bench/RESULTS.md]

For each database: a scratch database (SQLite in a temporary TONGXIN_DATA_DIR,
PostgreSQL a database ``tongxin_bench_<vendor>_<pid>`` created and dropped), migrated;
the district of ``bench/district.py`` built (the sweep is timed when a tenth of the
demands is in, and again at the end); gunicorn started as ``tongxin.sh start`` starts
it (2 workers, the same flags) with ``bench/settings.py`` (Tongxin's settings and two
bench-only views); then wrk (8 connections, loopback, bounded in time) for the
intake POSTs, their ceilings and the reads; the worker RSS after 10,000 requests or
more. One table at the end: figure | ceiling | ratio | goal | met?
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".venv"
LUA = BENCH / "lua"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CONNECTIONS = 8
THREADS = 2
READ_GOAL_MS = 50.0
INTAKE_GOAL = 0.5
SWEEP_GOAL = 1.5  # the sweep at N may take at most this many times its time at N/10
GENERATION_GOAL = 20_000
MEMORY_REQUESTS = 10_000


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ============================================================================================
# The child: one database, every measurement, results as JSON.
# ============================================================================================
def free_port(start: int = 18000) -> int:
    for port in range(start, start + 2000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def http(url: str, *, data: bytes | None = None, headers: dict | None = None, timeout=600):
    """(status, headers, body) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu() -> dict[int, tuple[str, int, int]]:
    """pid → (name, parent pid, user + system jiffies) of every process now."""
    out = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            f = stat[stat.rindex(")") + 2 :].split()
            out[int(p.name)] = (name, int(f[1]), int(f[11]) + int(f[12]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_split(
    before: dict, after: dict, master: int | None, requests: int, wrk_ms: float, busy: int
) -> dict:
    """Milliseconds of CPU per request, by who spent them: the server's workers (the
    gunicorn master's children), wrk, the database server (PostgreSQL's processes) and
    the rest of the machine's processes; "kernel" is the busy time no process was
    charged with (interrupts, and what the loopback network does in them)."""
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    split = {"workers": 0, "wrk": wrk_ms / tick, "database": 0, "other": 0}
    for pid, (name, ppid, jiffies) in after.items():
        spent = jiffies - (before[pid][2] if pid in before else 0)
        if master is not None and ppid == master:
            split["workers"] += spent
        elif name == "wrk":
            split["wrk"] += spent
        elif name == "postgres":
            split["database"] += spent
        else:
            split["other"] += spent
    split["kernel"] = max(0, busy - sum(split.values()))
    return {k: v * tick / max(requests, 1) for k, v in split.items()}


def wrk(
    base: str,
    script: str,
    args: list[str],
    seconds: float,
    timeout: int = 60,
    master: int | None = None,
) -> dict:
    cmd = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout}s",
        "-s",
        str(LUA / script),
        base,
        "--",
        *args,
    ]
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA)}
    busy0, total0 = cpu_times()
    procs0 = process_cpu()
    waited0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 300)
    waited1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs1 = process_cpu()
    wrk_ms = 1000 * (waited1.ru_utime + waited1.ru_stime - waited0.ru_utime - waited0.ru_stime)
    busy1, total1 = cpu_times()
    # How busy the cores were: near 100 % a figure is bound by the work done on them; well
    # below, by waiting (a lock, the disk).
    cpu_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            res = json.loads(line[len("WRKJSON ") :])
            res["seconds"] = res["duration_us"] / 1e6
            res["cpu_busy"] = cpu_busy
            res["rps"] = res["requests"] / res["seconds"] if res["seconds"] else 0.0
            res["cpu_ms"] = cpu_split(
                procs0, procs1, master, res["requests"], wrk_ms, busy1 - busy0
            )
            for k in ("p50", "p95", "p99", "max"):
                res[k] = res[k] / 1000.0  # µs → ms
            return res
    raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")


def drain(base: str) -> int:
    """Wait for what wrk left in flight (slow pages go on after wrk stops) to finish:
    until two hello requests in a row answer within 50 ms. Returns requests made."""
    quick, made = 0, 0
    while quick < 2 and made < 2000:
        started = time.perf_counter()
        http(base + "/bench/hello", timeout=600)
        made += 1
        quick = quick + 1 if time.perf_counter() - started < 0.05 else 0
    return made


def worker_rss(master: int) -> list[int]:
    """VmRSS (kB) of each child process of the gunicorn master."""
    out = []
    for pid, (_name, ppid, _jiffies) in process_cpu().items():
        if ppid != master:
            continue
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(out)


def child(args: argparse.Namespace) -> int:
    vendor = args.one
    quick = args.quick
    n = args.demands
    read_seconds = 3 if quick else 10
    write_seconds = 3 if quick else 10
    db_ceiling_seconds = 2 if quick else 5
    residents = 30_000 if quick else 300_000
    result: dict = {"vendor": vendor, "demands": n, "quick": quick, "rows": {}}
    rows = result["rows"]

    data_dir = Path(tempfile.mkdtemp(prefix=f"tongxin-bench-{vendor}-"))
    os.environ["TONGXIN_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["TONGXIN_TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    # The API's per-key limit (600 a minute) would answer 429 within a second of load.
    os.environ["TONGXIN_API_RATE_KEY"] = str(10**9)
    os.environ.pop("REDIS_URL", None)
    pg_db = None
    if vendor == "postgres":
        pg_db = f"tongxin_bench_pg_{os.getpid()}"
        admin_sql(f"CREATE DATABASE {pg_db}")
        os.environ["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_db
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    server = None
    try:
        import django

        django.setup()
        import logging

        logging.getLogger().setLevel(logging.WARNING)  # this process's own sweeps: quiet
        import district
        from django.core.management import call_command
        from django.db import connection

        from bench import views as bench_views

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("createcachetable", verbosity=0)
        bench_views.create_table()
        log(f"{vendor}: migrated in {time.perf_counter() - started:.1f} s")
        if not (ROOT / "staticfiles" / "staticfiles.json").exists():
            call_command("collectstatic", "--noinput", verbosity=0)
        result["versions"] = versions(connection)

        # --- generation, with the sweep at a tenth and at the whole ---------------------
        d = district.build_district(residents, log=lambda m: log(f"{vendor}: {m}"))
        result["district"] = {"areas": d.areas, "residents": d.residents, "users": d.users}
        tenth = n // 10
        s1 = district.add_demands(d, tenth, total=n, log=lambda m: log(f"{vendor}: {m}"))
        district.analyze()
        # The derived tables as at the end, so both sweeps find the same machinery.
        district.after_generation(log=lambda m: log(f"{vendor} (at {tenth:,}): {m}"))
        district.vacuum()
        result["sweep_small"] = time_sweep(tenth)
        log(f"{vendor}: sweep at {tenth:,}: {result['sweep_small']}")
        s2 = district.add_demands(
            d, n - tenth, total=n, start=tenth, log=lambda m: log(f"{vendor}: {m}")
        )
        gen_seconds = s1.seconds + s2.seconds
        result["generation"] = {
            "demands": s1.demands + s2.demands,
            "events": s1.events + s2.events,
            "seconds": gen_seconds,
            "rate": (s1.demands + s2.demands) / gen_seconds,
            "district_seconds": d.seconds,
            "processes": district.processes(),
            # Wall seconds per phase of each call (see district.add_demands).
            "phases": {"tenth": s1.phases, "rest": s2.phases},
        }
        log(f"{vendor}: generation {result['generation']}")
        started = time.perf_counter()
        from tongxin.demands.models import Demand, DemandEvent

        bad = district.check_foreign_keys([Demand, DemandEvent])
        result["fk_check"] = {"bad": bad, "seconds": time.perf_counter() - started}
        result["analyze_seconds"] = district.analyze()
        result["open_work"] = district.open_work(d)
        log(f"{vendor}: open work: {district.describe_open_work(result['open_work'])}")
        result["hooks"] = district.after_generation(log=lambda m: log(f"{vendor}: {m}"))
        result["vacuum_seconds"] = district.vacuum()
        if vendor == "postgres":
            log(f"{vendor}: VACUUM (ANALYZE), CHECKPOINT {result['vacuum_seconds']:.1f} s")
        result["sweep_large"] = time_sweep(n)
        log(f"{vendor}: sweep at {n:,}: {result['sweep_large']}")

        # --- the database ceiling: single-row commits from Python ------------------------
        result["db_ceiling"] = db_ceiling(db_ceiling_seconds)
        log(f"{vendor}: database ceiling {result['db_ceiling']['rps']:.0f} commits/s")

        # --- what the web requests need ---------------------------------------------------
        ctx = prepare_requests(d, n)
        connection.close()

        # --- the server, as tongxin.sh start runs it -------------------------------------
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server_log = open(data_dir / "gunicorn.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [
                str(VENV / "bin" / "gunicorn"),
                "tongxin.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ],
            cwd=ROOT,
            # The server queues its notification jobs in the database, as in production:
            # an intake commits the demand, its first event and its job (the generator
            # and the checks above run tasks at once instead).
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "TONGXIN_TASKS_BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            },
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(120):
            try:
                if http(base + "/bench/hello", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not start; see " + str(data_dir / "gunicorn.log"))
        time.sleep(1)
        # Each worker answers a few requests first, so both have loaded what they import.
        for _ in range(20):
            http(base + "/bench/hello")
        result["rss_start_kb"] = worker_rss(server.pid)
        served = 20

        def run(name: str, script: str, wargs: list[str], seconds: float, **kw) -> dict:
            nonlocal served
            res = wrk(base, script, wargs, seconds, master=server.pid, **kw)
            served += res["requests"] + drain(base)
            rows[name] = res
            log(
                f"{vendor}: {name}: {res['rps']:.1f} req/s, p50 {res['p50']:.1f} ms, "
                f"p95 {res['p95']:.1f} ms, p99 {res['p99']:.1f} ms, statuses {res['statuses']}"
                f", errors {res['errors']}, CPU {res['cpu_busy']:.0%} busy; CPU ms a request: "
                + ", ".join(f"{k} {v:.2f}" for k, v in res["cpu_ms"].items())
            )
            return res

        # --- intake and its ceilings -------------------------------------------------------
        run("hello", "get.lua", ["/bench/hello"], read_seconds)
        run("insert", "insert.lua", [], write_seconds)
        count = demand_count()
        run("rows", "insert.lua", ["/bench/rows"], write_seconds)
        rows["rows"]["created"] = demand_count() - count
        status, headers, body = http(base + ctx["form_path"])
        cookie = SimpleCookie()
        for value in headers.get_all("Set-Cookie") or []:
            cookie.load(value)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or "csrftoken" not in cookie or token is None:
            raise RuntimeError(f"the report form did not give a CSRF token ({status})")
        run_id = secrets.token_hex(4)
        count = demand_count()
        run(
            "intake_form",
            "form.lua",
            [
                ctx["form_path"],
                cookie["csrftoken"].value,
                token.group(1).decode(),
                ctx["form_rest"],
                run_id,
            ],
            write_seconds,
        )
        rows["intake_form"]["created"] = demand_count() - count
        count = demand_count()
        run("intake_api", "api.lua", [ctx["api_key"], ctx["api_body"], run_id], write_seconds)
        rows["intake_api"]["created"] = demand_count() - count

        # --- reads --------------------------------------------------------------------------
        session = f"sessionid={ctx['session']}"
        reads = [
            ("ledger_first", ctx["ledger_first"], session),
            ("ledger_deep", ctx["ledger_deep"], session),
            ("ledger_community", ctx["ledger_first"], f"sessionid={ctx['community_session']}"),
            ("demand_page", ctx["demand_page"], session),
            ("demand_new_page", ctx["demand_new_page"], session),
            ("board_community", ctx["board_community"], ""),
            ("board_street", ctx["board_street"], ""),
            ("dashboard_street", ctx["dashboard"], session),
        ]
        result["read_paths"] = {name: path for name, path, _c in reads}
        result["ledger_page"] = ctx["ledger_page"]
        for name, path, cookie_header in reads:
            # The first request alone (a cold cache for the boards), then the load.
            started = time.perf_counter()
            status, _h, _b = http(base + path, headers={"Cookie": cookie_header}, timeout=300)
            rows[name + "_first"] = {
                "ms": (time.perf_counter() - started) * 1000,
                "status": status,
            }
            served += 1
            run(name, "get.lua", [path, cookie_header], read_seconds)

        # --- memory after 10,000 requests ---------------------------------------------------
        if served < MEMORY_REQUESTS:
            hello_rps = max(rows["hello"]["rps"], 50.0)
            need = MEMORY_REQUESTS - served
            run("memory_topup", "get.lua", ["/bench/hello"], need / hello_rps * 1.3 + 1)
        result["requests_served"] = served
        result["rss_end_kb"] = worker_rss(server.pid)
        log(f"{vendor}: RSS {result['rss_start_kb']} → {result['rss_end_kb']} kB ({served:,} req)")
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if args.keep:
            log(f"{vendor}: kept: {data_dir}" + (f" and database {pg_db}" if pg_db else ""))
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            if pg_db:
                try:
                    admin_sql(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")
                except Exception as e:
                    log(f"{vendor}: could not drop database {pg_db}: {e}")
    Path(args.result).write_text(json.dumps(result, indent=1, default=str))
    return 0


def versions(connection) -> dict:
    import django

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        db = cursor.fetchone()[0]
    gunicorn = subprocess.run(
        [str(VENV / "bin" / "gunicorn"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": f"{connection.vendor} {db}",
        "gunicorn": gunicorn,
        "wrk": wrk_v[0] if wrk_v else "",
    }


def demand_count() -> int:
    from django.db import connection

    from tongxin.demands.models import Demand

    n = Demand.objects.count()
    connection.close()
    return n


def time_sweep(size: int, due: int = 1000) -> dict:
    """Make ``due`` demands fall due (open, tier 1, deadline a minute ago) and time one
    run of the sweep task, as the worker runs it."""
    from django.utils import timezone

    from tongxin.demands import tasks
    from tongxin.demands.models import CLOCK_STATES, Demand

    now = timezone.now()
    already = Demand.objects.filter(
        state__in=CLOCK_STATES, deadline__lte=now, tier__lt=4, postponed=False
    )
    cleared = 0
    for _ in range(50):  # what the generator left due (nothing, normally); untimed
        if not already.exists():
            break
        cleared += tasks.sweep_deadlines_task.call()
    # The newest demands that are not already at the top tier (open ones first).
    pks = list(Demand.objects.filter(tier__lt=4).order_by("-id").values_list("pk", flat=True)[:due])
    Demand.objects.filter(pk__in=pks).update(
        state="dispatched",
        tier=1,
        postponed=False,
        deadline=now - dt.timedelta(minutes=1),
        warn_at=now - dt.timedelta(hours=1),
    )
    started = time.perf_counter()
    escalated = tasks.sweep_deadlines_task.call()
    seconds = time.perf_counter() - started
    # The generator's open demands keep their deadlines: one may fall due in the seconds
    # since the clearing above and be escalated in the same run. Counted apart.
    ours = Demand.objects.filter(pk__in=pks, tier__gt=1).count()
    return {
        "table": size,
        "due": len(pks),
        "escalated": ours,
        "also_escalated": escalated - ours,
        "seconds": seconds,
        "cleared_before": cleared,
    }


def db_ceiling(seconds: float) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.views import TABLE

    done = 0
    started = time.perf_counter()
    end = started + seconds
    with connection.cursor() as cursor:
        while time.perf_counter() < end:
            with transaction.atomic():
                cursor.execute(f"INSERT INTO {TABLE} (at, n) VALUES (%s, %s)", [timezone.now(), 1])
            done += 1
    elapsed = time.perf_counter() - started
    return {"commits": done, "seconds": elapsed, "rps": done / elapsed}


def prepare_requests(d, n: int) -> dict:
    """Paths, the street user's and a community worker's sessions, an API key, the deep
    ledger cursor."""
    from django.test import Client

    from tongxin.accounts.models import User
    from tongxin.api.models import ApiToken
    from tongxin.demands.models import Category, Demand

    street = d.streets[0]
    community = d.communities[0]
    user = User.objects.get(pk=d.street_users[street])
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    # The ledger as most of its users see it: a community's worker, whose scope is the
    # community's demands and those they handle elsewhere.
    worker = Client()
    worker.force_login(User.objects.get(pk=community.workers[0][0]))
    community_session = worker.cookies["sessionid"].value
    _token, key = ApiToken.issue(name="bench", user=user, kind=ApiToken.Kind.INTEGRATION)
    category = Category.objects.get(code="environment")
    title, description = "楼道灯不亮（压测）", "3单元楼道灯坏了一个星期，晚上看不见路。"
    form_rest = urllib.parse.urlencode(
        {
            "category": category.pk,
            "title": title,
            "description": description,
            "address": "",
            "place": "",
            "is_anonymous": "on",
            "reporter_name": "",
            "reporter_phone": "",
            "website": "",
        }
    )
    api_body = json.dumps(
        {
            "area": community.pk,
            "category": category.code,
            "title": title,
            "description": description,
            "is_anonymous": True,
        },
        ensure_ascii=False,
    )
    # The ledger's 1,000th page: keyset pagination, so the page is reached by the cursor
    # of the last row of page 999 (what following "next" 999 times would give).
    page = 1000
    ledger_deep = ""
    try:
        from tongxin.accounts.scope import scope_for
        from tongxin.demands import ledger

        rows = ledger.for_rows(scope_for(user).demands(user)).order_by("-created_at", "-id")
        total = rows.count()
        page = max(2, min(1000, (total - 1) // ledger.PAGE_SIZE + 1))
        last_of_previous = rows[(page - 1) * ledger.PAGE_SIZE - 1]
        ledger_deep = "/demands/ledger/?cursor=" + urllib.parse.quote(
            ledger.Cursor.of(last_of_previous).encode()
        )
    except Exception as e:  # the ledger's internals changed: say so in the table
        log(f"ledger cursor: {e.__class__.__name__}: {e}")
    demand = (
        Demand.objects.filter(community__in=[c.pk for c in d.communities if c.street == street])
        .filter(state="closed")
        .order_by("-id")
        .first()
    )
    # A new one too, as its dispatcher opens it: the dispatch form drawn, with the
    # suggested handlers and their loads (the other steps are folded until opened).
    new = (
        Demand.objects.filter(community__in=[c.pk for c in d.communities if c.street == street])
        .filter(state="submitted")
        .order_by("-id")
        .first()
    )
    return {
        "session": session,
        "community_session": community_session,
        "api_key": key,
        "api_body": api_body,
        "form_path": f"/report/{community.pk}/",
        "form_rest": form_rest,
        "ledger_first": "/demands/ledger/",
        "ledger_deep": ledger_deep or "/demands/ledger/",
        "ledger_page": page if ledger_deep else None,
        "demand_page": f"/demands/{demand.pk}/",
        "demand_new_page": f"/demands/{(new or demand).pk}/",
        "board_community": f"/board/community/{community.pk}/",
        "board_street": f"/board/street/{street}/",
        "dashboard": "/dashboards/",
    }


# ============================================================================================
# The parent: one child per database, then the table.
# ============================================================================================
def fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s" if x >= 100 else f"{x:,.1f}/s"


def busy(x: dict) -> str:
    return f"; CPU {x['cpu_busy']:.0%} busy" if "cpu_busy" in x else ""


def table(results: list[dict]) -> tuple[list[list[str]], int]:
    """The rows: measurement | figure | ceiling | ratio | goal | met?; and how many goals
    were not met."""
    out = []
    missed = 0

    def add(name, figure, ceiling, ratio, goal, met):
        nonlocal missed
        if met is False:
            missed += 1
        verdict = "—" if met is None else ("met" if met else "**NOT MET**")
        shown = "—" if ratio is None else f"{ratio:.2f}"
        if ratio is not None and met is False and ratio < INTAKE_GOAL <= float(shown):
            shown = f"{ratio:.3f}"  # 0.497 is not met, and is not shown as 0.50
        out.append([name, figure, ceiling, shown, goal, verdict])

    for r in results:
        v = "SQLite" if r["vendor"] == "sqlite" else "PostgreSQL"
        rows = r["rows"]
        g = r["generation"]
        add(
            f"{v}: generate {g['demands']:,} demands + {g['events']:,} events",
            fmt_rate(g["rate"]) + f" ({g['seconds']:.0f} s)",
            f"{GENERATION_GOAL:,}/s (goal)",
            g["rate"] / GENERATION_GOAL,
            f"≥ {GENERATION_GOAL:,} demands/s",
            g["rate"] >= GENERATION_GOAL,
        )
        ceiling = rows["insert"]
        for key, label in (
            ("intake_form", "intake, public form POST"),
            ("intake_api", "intake, API POST"),
        ):
            x = rows[key]
            created = x.get("created", 0)
            rate = created / x["seconds"] if x["seconds"] else 0.0
            ok_status = sum(c for s, c in x["statuses"].items() if s in ("201", "302"))
            note = "" if ok_status == x["requests"] else f", {x['requests'] - ok_status} failed"
            add(
                f"{v}: {label}",
                f"{fmt_rate(rate)} created (p95 {x['p95']:.0f} ms{note}{busy(x)})",
                f"{fmt_rate(ceiling['rps'])} /bench/insert",
                rate / ceiling["rps"] if ceiling["rps"] else None,
                f"≥ {INTAKE_GOAL:.2f} of the framework ceiling",
                bool(ceiling["rps"]) and rate / ceiling["rps"] >= INTAKE_GOAL,
            )
        dbc = r["db_ceiling"]
        add(
            f"{v}: framework ceiling, /bench/insert",
            f"{fmt_rate(ceiling['rps'])} (p95 {ceiling['p95']:.0f} ms{busy(ceiling)})",
            f"{fmt_rate(dbc['rps'])} commits from Python",
            ceiling["rps"] / dbc["rps"] if dbc["rps"] else None,
            "(reference)",
            None,
        )
        if own := rows.get("rows"):
            # What the database's part of an intake alone leaves of the ceiling.
            rate = own.get("created", 0) / own["seconds"] if own["seconds"] else 0.0
            add(
                f"{v}: an intake's three rows alone, /bench/rows",
                f"{fmt_rate(rate)} created (p95 {own['p95']:.0f} ms{busy(own)})",
                f"{fmt_rate(ceiling['rps'])} /bench/insert",
                rate / ceiling["rps"] if ceiling["rps"] else None,
                "(reference: the database's part of an intake)",
                None,
            )
        hello = rows["hello"]
        add(
            f"{v}: read ceiling, /bench/hello",
            f"p50 {hello['p50']:.1f} / p95 {hello['p95']:.1f} / p99 {hello['p99']:.1f} ms, "
            f"{fmt_rate(hello['rps'])}",
            "—",
            None,
            "(reference)",
            None,
        )
        labels = {
            "ledger_first": "ledger, first page",
            "ledger_deep": f"ledger, page {r.get('ledger_page') or '(deep: n/a)'}",
            "ledger_community": "ledger, first page (a community's worker)",
            "demand_page": "a demand's page (closed)",
            "demand_new_page": "a new demand's page (dispatch form)",
            "board_community": "community board",
            "board_street": "street board",
            "dashboard_street": "street office dashboard",
        }
        for key, label in labels.items():
            x = rows[key]
            first = rows.get(key + "_first", {})
            ok = sum(c for s, c in x["statuses"].items() if s == "200")
            bad = x["requests"] - ok + x["errors"]["timeout"]
            figure = (
                f"p50 {x['p50']:.0f} / p95 {x['p95']:.0f} / p99 {x['p99']:.0f} ms, "
                f"{fmt_rate(x['rps'])}; first {first.get('ms', 0):,.0f} ms"
            )
            if bad:
                figure += f"; {bad} failed/timed out"
            if x["requests"] == 0:
                figure = f"no request completed in {x['seconds']:.0f} s"
            met = x["requests"] > 0 and bad == 0 and x["p95"] < READ_GOAL_MS
            add(
                f"{v}: {label}",
                figure,
                f"hello p95 {hello['p95']:.1f} ms",
                x["p95"] / hello["p95"] if hello["p95"] and x["requests"] else None,
                f"p95 < {READ_GOAL_MS:.0f} ms",
                met,
            )
        small, large = r["sweep_small"], r["sweep_large"]
        add(
            f"{v}: sweep, {large['due']:,} due among {large['table']:,}",
            f"{large['seconds']:.2f} s ({large['escalated']:,} escalated"
            + (
                f", and {large['also_escalated']:,} that fell due meanwhile)"
                if large.get("also_escalated")
                else ")"
            ),
            f"{small['seconds']:.2f} s among {small['table']:,}",
            large["seconds"] / small["seconds"] if small["seconds"] else None,
            f"ratio ≤ {SWEEP_GOAL} (follows the due rows)",
            large["seconds"] <= SWEEP_GOAL * small["seconds"]
            and large["escalated"] == large["due"],
        )
        start, end = r["rss_start_kb"], r["rss_end_kb"]
        add(
            f"{v}: worker RSS after {r['requests_served']:,} requests",
            " / ".join(f"{k / 1024:.0f} MB" for k in end),
            "at start " + " / ".join(f"{k / 1024:.0f} MB" for k in start),
            max(end) / max(start) if start and end else None,
            "(no goal in the issue)",
            None,
        )
    return out, missed


def markdown(rows: list[list[str]]) -> str:
    head = ["measurement", "figure", "ceiling", "ratio", "goal", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> dict:
    mem = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cores": os.cpu_count(),
        "memory": mem,
        "cpu": cpu,
        "kernel": platform.release(),
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


def admin_sql(sql: str) -> None:
    """One statement on the PostgreSQL server's admin database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as con:
        con.execute(sql)


def postgres_missing() -> str | None:
    """Why the PostgreSQL server of ``BENCH_PG_URL`` cannot be used, or None."""
    try:
        admin_sql("SELECT 1")
    except Exception as e:  # psycopg's OperationalError, a bad URL …
        return f"{e.__class__.__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
    return None


def parent(args: argparse.Namespace) -> int:
    vendors = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in vendors and (why := postgres_missing()):
        # Before the SQLite half, not after it: nothing measured is thrown away.
        print(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({why}).\n"
            "Start it, point BENCH_PG_URL at a server (its admin database, a user that may"
            " create databases), or measure SQLite alone: bench/run --database sqlite",
            file=sys.stderr,
        )
        return 2
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (bench/run does it)", file=sys.stderr)
        return 2
    results = []
    started = time.perf_counter()
    for vendor in vendors:
        result_file = Path(tempfile.mkstemp(prefix="bench-result-", suffix=".json")[1])
        cmd = [
            sys.executable,
            __file__,
            "--one",
            vendor,
            "--demands",
            str(args.demands),
            "--result",
            str(result_file),
        ]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--keep"] if args.keep else []
        log(f"== {vendor}: {' '.join(cmd[1:])}")
        t = time.perf_counter()
        code = subprocess.run(cmd, cwd=ROOT).returncode
        if code != 0 or not result_file.read_text().strip():
            log(f"== {vendor}: FAILED (exit {code})")
            return 1
        result = json.loads(result_file.read_text())
        result["wall_seconds"] = time.perf_counter() - t
        results.append(result)
        result_file.unlink()
    rows, missed = table(results)
    text = markdown(rows)
    print()
    print(text)
    print()
    print(
        f"{len(rows)} rows, {missed} goal(s) NOT MET; {time.perf_counter() - started:.0f} s in all"
    )
    if args.out:
        write_results(Path(args.out), args, results, text, missed)
        log(f"written: {args.out}")
    return 0


CPU_PARTS = "the server's workers / wrk / the database server / other processes and the kernel"


def cpu_lines(r: dict) -> str:
    """Where each write measurement's CPU went (:func:`cpu_split`), as one line."""
    out = []
    for name in ("hello", "insert", "rows", "intake_form", "intake_api"):
        ms = r["rows"].get(name, {}).get("cpu_ms")
        if ms:
            out.append(
                f"{name} {ms['workers']:.2f} / {ms['wrk']:.2f} / {ms['database']:.2f} / "
                f"{ms['other'] + ms['kernel']:.2f}"
            )
    return "; ".join(out)


def write_results(path: Path, args, results: list[dict], text: str, missed: int) -> None:
    from district import describe_open_work

    m = machine()
    v = results[0]["versions"]
    dbs = ", ".join(r["versions"]["database"] for r in results)
    cmd = "bench/run" + "".join(
        f" {a}" for a in sys.argv[1:] if not a.startswith("--out") and a != args.out
    )
    extras = []
    for r in results:
        name = "SQLite" if r["vendor"] == "sqlite" else "PostgreSQL"
        g = r["generation"]
        hooks = ", ".join(f"{k}() {s:.1f} s" for k, s in r.get("hooks", {}).items()) or "none"
        indexes = sum(p.get("indexes", 0.0) for p in g.get("phases", {}).values())
        extras.append(
            f"- {name}: district {r['district']['areas']:,} areas, "
            f"{r['district']['residents']:,} residents, {r['district']['users']} users in "
            f"{g['district_seconds']:.0f} s; {g['demands']:,} demands and {g['events']:,} "
            f"events in {g['seconds']:.0f} s ({g.get('processes', 1)} processes; of which "
            f"index rebuilds {indexes:.0f} s); foreign keys checked after the load: "
            f"{r['fk_check']['bad']} dangling ({r['fk_check']['seconds']:.0f} s); "
            + (f"open work: {describe_open_work(r['open_work'])}; " if "open_work" in r else "")
            + "ANALYZE "
            f"{r['analyze_seconds']:.0f} s; after generation: {hooks}"
            + (
                f", then VACUUM (ANALYZE) and CHECKPOINT {r['vacuum_seconds']:.0f} s (as"
                " autovacuum and the checkpointer would soon; not during the measurements)"
                if r["vendor"] != "sqlite" and "vacuum_seconds" in r
                else ""
            )
            + f"; whole run {r['wall_seconds'] / 60:.0f} min. Read paths: "
            + ", ".join(f"`{p}`" for p in r["read_paths"].values())
        )
        split = cpu_lines(r)
        if split:
            extras.append(f"- {name}: CPU a request, in ms ({CPU_PARTS}): {split}")
    body = f"""# Benchmark results

Made by `bench/run` (see [README](README.md#everything-at-once--run)). Every figure is
beside its ceiling, measured in the same run on the same server; goals not met say so.

- Machine: {m["cores"]} cores ({m["cpu"]}), {m["memory"]} RAM, Linux {m["kernel"]}
- Date: {m["date"]}
- Versions: Python {v["python"]}, Django {v["django"]}, {dbs}, {v["gunicorn"]}, {v["wrk"]}
- Command: `{cmd}`{" (quick: a smoke run, not the real figures)" if args.quick else ""}
- Server: gunicorn as `tongxin.sh start` runs it (`--workers 2 --timeout 120
  --access-logfile - --graceful-timeout 10`), settings `bench/settings.py` = Tongxin's
  settings plus `/bench/hello` and `/bench/insert`; cache = the database table (the
  default); API rate limit per key raised to 10⁹ a minute for the run.
- Load: wrk, {CONNECTIONS} connections, {THREADS} threads, loopback,
  {"3" if args.quick else "10"} s per measurement; the generator, the sweep and the
  database ceiling run before the server starts.

{text}

{missed} goal(s) not met.

Ratios: throughput ÷ its ceiling (higher is better, ≤ 1); latency p95 ÷ the hello
view's p95 (lower is better); sweep time at N ÷ at N/10; RSS at the end ÷ at start.

{chr(10).join(extras)}
"""
    path.write_text(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--demands", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="50,000 demands, 3 s wrk runs")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--out", help="write the results markdown here (e.g. bench/RESULTS.md)")
    parser.add_argument("--one", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.demands is None:
        args.demands = 50_000 if args.quick else 1_000_000
    if args.one:
        return child(args)
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
