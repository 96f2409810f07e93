"""A walk through the pages of one user on a district kept by ``bench/run --keep`` (not
a test, not part of the table): each page three times in one process, its status, size,
query count and time. For the pages the table does not measure — what a district or
street office, a community worker opens besides the ledger — at a million demands.

    .venv/bin/python bench/tour.py --data-dir /tmp/tongxin-bench-sqlite-… bench_district
    .venv/bin/python bench/tour.py --database-url postgres://postgres@127.0.0.1:5432/tongxin_bench_pg_… \\
        bench_c1_1 / /demands/ "/demands/?tab=overdue"
    .venv/bin/python bench/tour.py --data-dir … --queries 5 bench_district /demands/

Users of the generated district: ``bench_district``, ``bench_street1``…``bench_street10``,
``bench_c<street>_<n>`` (community workers). With no paths, the pages in ``PAGES``.
The first time is the cold one (the process's first request, caches empty); the other
two are what a user who comes back sees.
"""

from __future__ import annotations

import argparse
import time

from common import setup_django

PAGES = (
    "/",
    "/demands/",
    "/demands/?tab=overdue",
    "/demands/ledger/",
    "/demands/meeting/",
    "/dashboards/",
    "/dashboards/briefing/",
    "/board/hot/",
    "/residents/",
)
REPEAT = 3


def shown(times: list[float]) -> list[float]:
    """Of more than three: the first, the second, the slowest of the rest, the last."""
    return [times[0], times[1], max(times[2:]), times[-1]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("user", help="the username to sign in as")
    parser.add_argument("paths", nargs="*", help="the pages (default: PAGES)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", help="a kept SQLite district (bench/run --keep)")
    where.add_argument("--database-url", help="a kept PostgreSQL district")
    parser.add_argument(
        "--repeat",
        type=int,
        default=REPEAT,
        metavar="N",
        help=f"ask each page N times (default {REPEAT}); on PostgreSQL a statement's"
        " generic plan is tried from about its tenth run in a connection on, so a page"
        " that slows down only then shows at --repeat 12",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=0,
        metavar="N",
        help="also show each page's N slowest queries",
    )
    args = parser.parse_args()
    setup_django(args.database_url, args.data_dir)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tongxin.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=args.user))
    if args.repeat > 3:
        print(
            f"{'status':>6} {'KB':>6} {'queries':>7}   ms: first / again / slowest of the rest / last   page"
        )
    else:
        print(f"{'status':>6} {'KB':>6} {'queries':>7}   ms: first / again / again   page")
    for path in args.paths or PAGES:
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
        print(
            f"{response.status_code:>6} {len(response.content) // 1024:>6} "
            f"{len(queries.captured_queries):>7}   "
            + " / ".join(f"{t:5.0f}" for t in (times if len(times) <= 3 else shown(times)))
            + f"   {path}"
        )
        slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))
        for query in slowest[: args.queries]:
            print(f"{'':>22}{float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
