"""Benchmark: importing a resident spreadsheet (not a test).

    .venv/bin/python bench/import_residents.py [--rows 10000]
    .venv/bin/python bench/import_residents.py --database-url postgres://postgres@127.0.0.1:5432/tongxin_bench

Builds a small area tree in a fresh database (a temporary SQLite file unless
--database-url names an empty PostgreSQL database), writes a valid .xlsx of --rows
residents, and times (a) reading + validating it and (b) the whole import job as the
background task runs it (read, validate, create households and residents, audit).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import date, timedelta

from common import setup_django

CEILING_SECONDS = 30.0
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国玉兰淑珍德福海燕志红"


def build_tree():
    from tongxin.accounts.models import User, UserRole
    from tongxin.areas.models import Area, Level
    from tongxin.core.treepaths import bulk_add_children

    district = Area.add_root(name="基准区", level=Level.DISTRICT)
    street = district.add_child(name="基准街道", level=Level.STREET)
    community = street.add_child(name="基准社区", level=Level.COMMUNITY)
    estate = community.add_child(name="基准小区", level=Level.ESTATE)
    zone = estate.add_child(name="北片区", level=Level.ZONE)
    buildings = [estate.add_child(name=f"{i}栋", level=Level.BUILDING) for i in (1, 2, 3)]
    buildings.append(zone.add_child(name="4栋", level=Level.BUILDING))
    # Some households exist already, as in a community that registered a few by hand.
    bulk_add_children(
        buildings[0],
        [
            Area(name=f"1单元{room}室", level=Level.HOUSEHOLD, unit="1", room=str(room))
            for room in (101, 102, 103, 104, 201, 202, 203, 204)
        ],
    )
    user = User.objects.create(
        username="bench_worker",
        full_name="基准社工",
        role=UserRole.COMMUNITY_WORKER,
        area=community,
    )
    return user, buildings


def spreadsheet(rows: int) -> bytes:
    """A valid file: about five residents a household, four units of 30 floors."""
    from openpyxl import Workbook
    from stdnum.cn import ric

    from tongxin.people.importer import COLUMNS, care_tag_labels

    rng = random.Random(2026)
    labels = care_tag_labels()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("居民")
    sheet.append([c.header for c in COLUMNS])
    for i in range(rows):
        household = i // 5
        building = household % 4 + 1
        unit = household // 4 % 4 + 1
        floor, door = divmod(household // 16, 4)
        room = f"{floor % 30 + 1}{door + 1:02d}"
        birth = date(1940, 1, 1) + timedelta(days=i // 999)
        body = f"510321{birth:%Y%m%d}{i % 999 + 1:03d}"
        values = {
            "name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))),
            "gender": "",
            "id_number": body + ric.calc_check_digit(body + "0") if i % 10 else "",
            "phone": f"13{rng.randrange(10**9):09d}" if i % 3 else "",
            "community": "基准社区",
            "estate": "基准小区",
            "zone": "",
            "building": f"{building}栋",
            "unit": str(unit),
            "room": room,
            "relation": "户主" if i % 5 == 0 else "家庭成员",
            "tags": "、".join(rng.sample(labels, k=rng.choice((0, 0, 0, 1, 2)))),
            "note": "",
        }
        sheet.append([values[c.key] for c in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        help="an empty PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/tongxin_bench",
    )
    args = parser.parse_args()
    setup_django(args.database_url)

    from django.db import connection

    from tongxin.areas.models import Area
    from tongxin.people import importer
    from tongxin.people.models import ImportJob, Resident
    from tongxin.people.tasks import process_job

    if Resident.objects.exists() or Area.objects.exists():
        print("The database is not empty; give a fresh one (createdb …).", file=sys.stderr)
        return 2
    user, _buildings = build_tree()
    started = time.perf_counter()
    data = spreadsheet(args.rows)
    print(
        f"database: {connection.vendor}; spreadsheet of {args.rows} rows, "
        f"{len(data) / 1024:.0f} KiB, made in {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    sheet = importer.read_sheet(data)
    read = time.perf_counter() - started
    validation = importer.validate(sheet, user)
    validated = time.perf_counter() - started
    if validation.errors:
        print(f"unexpected errors: {validation.errors[:5]}", file=sys.stderr)
        return 1
    print(f"read {args.rows} rows: {read:.1f} s; read + validate: {validated:.1f} s")

    job = ImportJob.objects.create(
        created_by=user, original_name="bench.xlsx", content=data, sha256="bench"
    )
    started = time.perf_counter()
    process_job(job)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    if job.status != ImportJob.Status.DONE or job.created_count != args.rows:
        print(f"import failed: {job.status} {job.message} {job.errors[:5]}", file=sys.stderr)
        return 1
    print(f"  {job.created_count} residents, {job.households_created} new households")
    ratio = elapsed / CEILING_SECONDS
    print(
        f"import {args.rows} rows: {elapsed:.1f} s "
        f"(ceiling {CEILING_SECONDS:.0f} s, ratio {ratio:.2f})"
    )
    if args.database_url:
        _clean_up()
    return 0 if elapsed <= CEILING_SECONDS else 1


def _clean_up() -> None:
    """Leave a PostgreSQL database as empty as it was given, so the run can be repeated."""
    from django.db import transaction

    from tongxin.accounts.models import User
    from tongxin.areas.models import Area
    from tongxin.audit.models import AuditEntry
    from tongxin.people.models import ImportJob, Resident

    with transaction.atomic():
        AuditEntry.objects.all().delete()
        ImportJob.objects.all().delete()
        Resident.objects.all().delete()
        User.objects.filter(username="bench_worker").delete()
        Area.objects.all().delete()


if __name__ == "__main__":
    sys.exit(main())
