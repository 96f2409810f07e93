"""Benchmark: the public board and the dashboards of a street with many demands (not a test).

    .venv/bin/python bench/board_at_scale.py [--demands 1000000] [--repeat 5]
    .venv/bin/python bench/board_at_scale.py --database-url postgres://postgres@127.0.0.1:5432/tongxin_bench_board

Builds the demo street at a small scale (6 communities) in a fresh database (a temporary
SQLite file unless --database-url names an empty PostgreSQL database), adds --demands
demands spread over the last 12 months through bulk_create (no events, no clock calls:
the deadlines are computed arithmetically), then times, each --repeat times, the
uncached computation of the community board and the street board (board_data), the
street office's dashboard for this month (the whole view, through the test client) and
metrics.figures for the street for one month, against a ceiling of one second each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from common import setup_django

CEILING_SECONDS = 1.0
BATCH = 5_000
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# (channel, weight): most demands come in through the web form, visits and the hotline.
CHANNELS = (
    ("web", 30),
    ("visit", 20),
    ("hotline", 15),
    ("hall", 10),
    ("wechat", 10),
    ("station_day", 6),
    ("qq", 3),
    ("box", 3),
    ("wish_wall", 2),
    ("open311", 1),
)
TIERS = ((1, 55), (2, 30), (3, 12), (4, 3))
TITLES = (
    "楼道灯不亮",
    "下水道堵塞",
    "小区垃圾未及时清运",
    "电梯故障停运",
    "路面破损积水",
    "噪音扰民",
    "违章停车占道",
    "绿化带杂草丛生",
    "屋顶漏水",
    "健身器材损坏",
    "流浪犬伤人隐患",
    "独居老人需要上门服务",
)
ANSWER = "已联系物业处理完毕，经回访居民表示满意。"


def _code(i: int) -> str:
    """A unique tracking code from the row index: 'Z' and ten base-32 digits."""
    out = []
    for _ in range(10):
        i, r = divmod(i, 32)
        out.append(_B32[r])
    return "Z" + "".join(reversed(out))


def _weighted(rng: random.Random, pairs, k: int) -> list:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=k)


def generate(n: int, now: dt.datetime, seed: int = 7) -> float:
    """Insert ``n`` demands; returns the seconds it took."""
    from django.db import transaction

    from tongxin.areas.models import Area, Level
    from tongxin.demands.models import Category, Demand, Satisfaction, State, TimeUnit

    rng = random.Random(seed)
    communities = list(Area.objects.filter(level=Level.COMMUNITY).order_by("path"))
    estates: dict[int, list[Area]] = {c.pk: [] for c in communities}
    for estate in Area.objects.filter(level=Level.ESTATE):
        for c in communities:
            if estate.path.startswith(c.path):
                estates[c.pk].append(estate)
    # Bigger communities report more: weights 30, 22, 16, 12, 11, 9.
    community_weights = (30, 22, 16, 12, 11, 9)[: len(communities)]
    categories = [
        (c, (c.time_limit * 3600 if c.time_unit == TimeUnit.WORKING_HOURS else 0))
        for c in Category.objects.filter(is_active=True)
    ]
    category_weights = [max(1, 20 - 2 * i) for i in range(len(categories))]
    span = 365 * 86400
    started = time.perf_counter()
    made = 0
    while made < n:
        size = min(BATCH, n - made)
        picks_c = rng.choices(communities, weights=community_weights, k=size)
        picks_k = rng.choices(categories, weights=category_weights, k=size)
        channels = _weighted(rng, CHANNELS, size)
        tiers = _weighted(rng, TIERS, size)
        rows = []
        for j in range(size):
            i = made + j
            community = picks_c[j]
            category, hour_limit = picks_k[j]
            # Uniform over the last year, a little busier lately.
            age = span * (rng.random() ** 1.15)
            created = now - dt.timedelta(seconds=age)
            # Working days ≈ 7/5 calendar days; working hours ≈ 3 calendar hours each.
            limit = (
                dt.timedelta(seconds=hour_limit * 3)
                if hour_limit
                else dt.timedelta(days=category.time_limit * 7 / 5)
            )
            deadline = created + limit
            warn = created + limit * 0.8
            u = rng.random()
            state = State.CLOSED
            resolved_at = closed_at = first_response = None
            satisfaction = ""
            if age < 2 * limit.total_seconds() and u < 0.6:
                state = rng.choice(
                    (State.SUBMITTED, State.DISPATCHED, State.ACCEPTED, State.IN_PROGRESS)
                )
            elif u < 0.015:
                state = State.IN_PROGRESS  # long overdue
            elif u < 0.025:
                state = State.RETURNED
            elif u < 0.045:
                state = State.MERGED
            elif u < 0.06:
                state = State.WITHDRAWN
            elif u < 0.22:
                state = State.RESOLVED
            if state != State.SUBMITTED:
                first_response = created + dt.timedelta(hours=1 + 20 * rng.random())
            if state in (State.RESOLVED, State.CLOSED):
                took = limit * (0.1 + 1.2 * rng.random() ** 1.5)
                resolved_at = min(created + took, now - dt.timedelta(minutes=1))
                if state == State.CLOSED:
                    closed_at = min(resolved_at + dt.timedelta(days=2), now)
                    satisfaction = _weighted(
                        rng,
                        (
                            (Satisfaction.SATISFIED, 85),
                            (Satisfaction.BASICALLY, 11),
                            (Satisfaction.DISSATISFIED, 4),
                        ),
                        1,
                    )[0]
            local_estates = estates[community.pk]
            area = rng.choice(local_estates) if local_estates and rng.random() < 0.8 else community
            title = TITLES[i % len(TITLES)]
            rows.append(
                Demand(
                    tracking_code=_code(i),
                    area=area,
                    community=community,
                    category=category,
                    title=title,
                    description=f"{title}，请尽快处理。",
                    channel=channels[j],
                    reporter_name="",
                    state=state,
                    tier=tiers[j],
                    created_at=created,
                    clock_started_at=created,
                    warn_at=warn,
                    deadline=deadline,
                    first_deadline=deadline,
                    first_response_at=first_response,
                    resolved_at=resolved_at,
                    resolved_on_time=None if resolved_at is None else resolved_at <= deadline,
                    closed_at=closed_at,
                    satisfaction=satisfaction,
                    public_answer=ANSWER if resolved_at is not None and i % 5 == 0 else "",
                    postponed=i % 200 == 0,
                )
            )
        with transaction.atomic():
            Demand.objects.bulk_create(rows, batch_size=BATCH)
        made += size
        if made % 100_000 < BATCH:
            elapsed = time.perf_counter() - started
            print(f"  {made} demands, {made / elapsed:,.0f}/s", flush=True)
    return time.perf_counter() - started


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def where_time_goes(fn, top: int = 4) -> list[str]:
    """The slowest SQL statements of one call of ``fn``."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        fn()
        total = time.perf_counter() - started
    queries = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))
    sql_total = sum(float(q["time"]) for q in queries)
    lines = [f"{len(queries)} queries, {sql_total:.2f} s of SQL in {total:.2f} s"]
    for q in queries[:top]:
        sql = " ".join(q["sql"].split())
        lines.append(f"{float(q['time']):6.2f} s  {sql[:150]}…")
    # Outside SQL: the Python functions of the project that took longest (cumulative).
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.runcall(fn)
    stats = pstats.Stats(profile).stats
    ours = sorted(
        ((v[3], f"{Path(k[0]).name}:{k[2]}") for k, v in stats.items() if "tongxin" in k[0]),
        reverse=True,
    )
    lines.append(
        "python (cumulative, under cProfile): "
        + ", ".join(f"{name} {t:.2f} s" for t, name in ours[:top])
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demands", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the demands already in the database instead of generating new ones "
        "(an empty database is filled first); the data is kept afterwards; with --data-dir "
        "for SQLite",
    )
    parser.add_argument("--data-dir", help="an existing SQLite data folder (kept)")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="do not re-run a measurement that fails the ceiling to show where its time goes",
    )
    parser.add_argument(
        "--database-url",
        help="an empty PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/tongxin_bench",
    )
    args = parser.parse_args()
    setup_django(args.database_url, args.data_dir)

    from django.core.cache import cache
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from tongxin.accounts.models import User
    from tongxin.areas.models import Area, Level
    from tongxin.board.tasks import link_all
    from tongxin.board.views import area_demands, board_data
    from tongxin.demands import metrics, rollup
    from tongxin.demands.models import Demand, DirtyDay
    from tongxin.demo.builder import build_demo_street

    reuse = args.reuse and Demand.objects.exists()
    if not reuse and (Demand.objects.exists() or Area.objects.exists()):
        print("The database is not empty; give a fresh one (createdb …).", file=sys.stderr)
        return 2
    now = timezone.now()
    if reuse:
        print(f"database: {connection.vendor}; reusing {Demand.objects.count()} demands")
    else:
        started = time.perf_counter()
        build_demo_street(scale=0.05, seed=1)
        elapsed = time.perf_counter() - started
        print(f"database: {connection.vendor}; demo street built in {elapsed:.1f} s")
        elapsed = generate(args.demands, now)
        rate = args.demands / elapsed
        print(f"generated {args.demands} demands in {elapsed:.1f} s ({rate:,.0f}/s)")
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE demands_demand")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"analyze: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    rows = rollup.rebuild(now)
    print(f"rollup rebuild: {rows} day rows in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    linked = link_all(max_rounds=None)  # what the minutely task does, all at once
    print(f"hot topics linked: {linked} in {time.perf_counter() - started:.1f} s")
    states = Counter(dict(Demand.objects.values_list("state").annotate(n=Count("pk")).order_by()))
    print("states:", ", ".join(f"{k} {v}" for k, v in states.most_common()))

    street = Area.objects.get(level=Level.STREET)
    community = Area.objects.filter(level=Level.COMMUNITY).order_by("path").first()
    office = User.objects.get(username="jiedao")
    client = Client()
    client.force_login(office)
    today = timezone.localdate(now)
    month = metrics.Period.month(today.year, today.month)
    street_demands = area_demands(street)

    def dashboard():
        cache.clear()  # cold: the rollup's cached sums too
        response = client.get(reverse("dashboards:dashboard"))
        assert response.status_code == 200, response.status_code

    def board(area):
        def run():
            cache.clear()
            board_data(area)

        return run

    def marked(fn):
        """The same, with 30 past days of the street marked changed (read live)."""

        def run():
            ids = rollup.community_ids(street)
            days = [today - dt.timedelta(days=3 + 11 * i) for i in range(30)]
            rollup.mark(ids[:1], days)
            try:
                fn()
            finally:
                DirtyDay.objects.all().delete()

        return run

    measurements = [
        (f"community board ({community.name}), uncached", board(community)),
        ("street board, uncached", board(street)),
        ("street office dashboard, this month", dashboard),
        ("street board, uncached, 30 changed days", marked(board(street))),
        ("street office dashboard, 30 changed days", marked(dashboard)),
        ("metrics.figures, street, this month", lambda: metrics.figures(street_demands, month)),
    ]
    results = []
    for name, fn in measurements:
        times = timed(fn, args.repeat)
        results.append((name, fn, min(times), statistics.median(times)))
        print(
            f"  {name}: min {min(times):.3f} s, median {statistics.median(times):.3f} s", flush=True
        )

    print()
    print(f"{args.demands} demands, {connection.vendor}, {args.repeat} runs each")
    print(f"| {'measurement':<44} | median s | ceiling s | ratio | result  |")
    print(f"|{'-' * 46}|----------|-----------|-------|---------|")
    failed = []
    for name, fn, _least, median in results:
        ratio = median / CEILING_SECONDS
        verdict = "MET" if median <= CEILING_SECONDS else "NOT MET"
        print(
            f"| {name:<44} | {median:8.3f} | {CEILING_SECONDS:9.1f} | {ratio:5.2f} | {verdict:<7} |"
        )
        if verdict != "MET":
            failed.append((name, fn))
    for name, fn in [] if args.no_profile else failed:
        print(f"\nwhere the time goes — {name}:")
        for line in where_time_goes(fn):
            print("  " + line)
    if args.database_url and not args.reuse:
        _clean_up()
    return 1 if failed else 0


def _clean_up() -> None:
    """Empty the PostgreSQL database again (drop every table), so the run can be repeated."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE")
        cursor.execute("CREATE SCHEMA public")


if __name__ == "__main__":
    sys.exit(main())
