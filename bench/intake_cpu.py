"""What one intake request costs, in one process, beside the framework ceiling (not a
test, not part of the table): the CPU time of the public form POST, the API POST,
``/bench/insert`` and ``/bench/rows`` (an intake's three rows alone) through Django's
WSGI handler — every middleware, as gunicorn calls
it — and, on PostgreSQL, the server's CPU for the same requests (read from
``/proc/<backend pid>/stat``: the database works on the same cores under load).

    .venv/bin/python bench/intake_cpu.py                       # SQLite, a fresh district
    .venv/bin/python bench/intake_cpu.py --database-url postgres://postgres@127.0.0.1:5432/x
    .venv/bin/python bench/intake_cpu.py --profile form        # where a form POST's time goes

Under wrk the two gunicorn workers and wrk share two cores, so a request's CPU is what
bounds the rate; ``bench/run`` measures that rate. This measures the cost alone,
repeatably (each kind ``--rounds`` times alternated, the best kept), so that a change to
the intake can be weighed in a minute without a million demands.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys
import time
from pathlib import Path

from common import setup_django

BENCH = Path(__file__).resolve().parent


def environ(method: str, path: str, body: bytes = b"", **headers: str) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        env[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return env


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The steps of an intake, each timed inclusively (wall time): (module, attribute path).
BREAKDOWN = [
    ("django.core.handlers.wsgi", "WSGIHandler.__call__"),
    ("django.core.handlers.base", "BaseHandler._get_response"),
    ("django.middleware.csrf", "CsrfViewMiddleware.process_view"),
    ("django.core.handlers.wsgi", "WSGIRequest._load_post_and_files"),
    ("tongxin.demands.views_public", "_community_or_404"),
    ("tongxin.demands.forms_intake", "PublicReportForm.__init__"),
    ("django.forms.forms", "BaseForm.full_clean"),
    ("tongxin.api.limits", "over_limit"),
    ("tongxin.api.models", "ApiToken.authenticate"),
    ("tongxin.api.endpoints", "demand_detail_out"),
    ("tongxin.api.endpoints", "create_demand"),
    ("ninja.operation", "Operation.run"),
    ("ninja.operation", "Operation._result_to_response"),
    ("ninja.operation", "Operation._get_values"),
    ("tongxin.demands.actions", "submit_demand"),
    ("tongxin.demands.clock", "start"),
    ("tongxin.core.prepared", "insert"),
    ("tongxin.core.prepared", "insert_together"),
    ("tongxin.core.prepared", "_Row.__init__"),
    ("tongxin.core.prepared", "Prepared.get"),
    ("django_tasks_db.backend", "DatabaseBackend.enqueue"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.commit"),
    ("tongxin.demands.views_public", "redirect"),
]


def breakdown(envs: list[dict], call) -> None:
    """Each step's wall time per request, inclusive (a step inside another counts in
    both), around ``len(envs)`` requests."""
    import importlib

    spent: dict[str, float] = {}
    calls: dict[str, int] = {}

    def wrap(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*a, **kw):
            started = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
                calls[label] = calls.get(label, 0) + 1

        setattr(owner, name, timed)

    for module, path in BREAKDOWN:
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        wrap(owner, name, path)
    for env in envs:
        call(env)
    for label in spent:
        per = spent[label] / len(envs) * 1000
        print(f"{label:<40} {per:7.3f} ms  ({calls[label] / len(envs):.0f} a request)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default SQLite)")
    parser.add_argument("--demands", type=int, default=100_000, help="demands already there")
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", choices=["form", "api", "insert", "rows"], help="cProfile one kind"
    )
    parser.add_argument(
        "--profile-out", metavar="FILE", help="with --profile: also save the stats (pstats) to FILE"
    )
    parser.add_argument(
        "--breakdown",
        choices=["form", "api", "insert", "rows"],
        help="time spent in each step of one kind (BREAKDOWN), without a profiler's overhead",
    )
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["TONGXIN_API_RATE_KEY"] = str(10**9)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(BENCH))
    setup_django(args.database_url)

    import district
    import run
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from bench import views as bench_views

    bench_views.create_table()
    if not (BENCH.parent / "staticfiles" / "staticfiles.json").exists():
        from django.core.management import call_command

        call_command("collectstatic", "--noinput", verbosity=0)
    quiet = lambda m: None  # noqa: E731
    d = district.build_district(30_000, log=quiet)
    if args.demands:
        district.add_demands(d, args.demands, log=quiet)
    district.analyze()
    ctx = run.prepare_requests(d, args.demands)
    # Intake's jobs go to the database queue, as under gunicorn (setup_django runs them
    # at once, for the generator).
    from django.conf import settings
    from django.test.utils import override_settings

    tasks = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
        }
    }
    override_settings(TASKS=tasks).enable()

    handler = WSGIHandler()

    def call(env: dict) -> int:
        status = []
        body = handler(env, lambda s, h, exc_info=None: status.append(s))
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        return int(status[0].split()[0])

    # The report form's CSRF cookie and token, as a browser gets them.
    env = environ("GET", ctx["form_path"])
    captured: dict = {}

    def start(s, headers, exc_info=None):
        captured["headers"] = headers

    page = b"".join(handler(env, start))
    cookie = next(v for k, v in captured["headers"] if k == "Set-Cookie" and "csrftoken" in v)
    csrf_cookie = cookie.split(";", 1)[0].split("=", 1)[1]
    token = page.split(b'name="csrfmiddlewaretoken" value="', 1)[1].split(b'"', 1)[0].decode()
    run_id = secrets.token_hex(4)
    n = 0

    def form() -> dict:
        nonlocal n
        n += 1
        body = (
            f"csrfmiddlewaretoken={token}&submission_token=cpu{run_id}-{n:010d}&" + ctx["form_rest"]
        ).encode()
        return environ(
            "POST",
            ctx["form_path"],
            body,
            Cookie=f"csrftoken={csrf_cookie}",
            Content_Type="application/x-www-form-urlencoded",
        )

    def api() -> dict:
        nonlocal n
        n += 1
        return environ(
            "POST",
            "/api/v1/demands",
            ctx["api_body"].encode(),
            X_Api_Key=ctx["api_key"],
            Content_Type="application/json",
            Idempotency_Key=f"cpu{run_id}-{n:010d}",
        )

    def insert() -> dict:
        return environ("POST", "/bench/insert")

    def rows() -> dict:
        return environ("POST", "/bench/rows")

    def hello() -> dict:
        return environ("GET", "/bench/hello")

    kinds = {
        "hello": (hello, 200),
        "insert": (insert, 200),
        "rows": (rows, 200),
        "form": (form, 302),
        "api": (api, 201),
    }
    for make, want in kinds.values():  # warm up: imports, prepared statements, caches
        for _ in range(20):
            if (got := call(make())) != want:
                raise SystemExit(f"{make.__name__}: {got}, wanted {want}")

    if args.breakdown:
        make, _want = kinds[args.breakdown]
        breakdown([make() for _ in range(args.requests)], call)
        return 0

    if args.profile:
        import cProfile
        import pstats

        make, _want = kinds[args.profile]
        envs = [make() for _ in range(args.requests)]
        profiler = cProfile.Profile()
        profiler.enable()
        for env in envs:
            call(env)
        profiler.disable()
        stats = pstats.Stats(profiler)
        if args.profile_out:
            stats.dump_stats(args.profile_out)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(30)
        return 0

    best: dict[str, tuple[float, float]] = {}
    for _round in range(args.rounds):
        for name, (make, want) in kinds.items():
            envs = [make() for _ in range(args.requests)]
            db0, cpu0 = backend_cpu(), time.process_time()
            for env in envs:
                if call(env) != want:
                    raise SystemExit(f"{name}: not {want}")
            cpu = (time.process_time() - cpu0) / len(envs) * 1000
            db = (backend_cpu() - db0) / len(envs) * 1000
            if name not in best or cpu + db < sum(best[name]):
                best[name] = (cpu, db)
    ceiling = sum(best["insert"])
    print(
        f"{connection.vendor}, {args.demands:,} demands, {args.requests} requests x {args.rounds}"
    )
    print(f"{'request':<8} {'python ms':>9} {'db ms':>6} {'total':>6} {'ceiling/total':>13}")
    for name, (cpu, db) in best.items():
        total = cpu + db
        print(f"{name:<8} {cpu:9.3f} {db:6.3f} {total:6.3f} {ceiling / total:13.2f}")
    print(json.dumps({k: round(sum(v), 4) for k, v in best.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
