"""A whole district for the benchmarks, built through the bulk paths (not a test).

    .venv/bin/python bench/district.py [--demands 1000000] [--residents 300000]
    .venv/bin/python bench/district.py --database-url postgres://postgres@127.0.0.1:5432/x

One district > 10 streets > 6 communities each > estates > buildings > households,
about 300,000 residents, a few staff users on every level with their chains of
responsible persons, and ``--demands`` demands spread over the last 36 months with
the events the actions of :mod:`tongxin.demands.actions` write for the state each has
reached (submitted, dispatched twice, claimed, started, resolved, visited, rated,
escalated, returned, merged, withdrawn, rework). The open work is what a district that
keeps up has: mostly the last weeks' demands, the overdue ones fewer the older they are
and gone up the tiers as the sweep moves them, a few hundred at the dispatch meeting,
return visits done within days (``OVERDUE_SHARE``, ``OPEN_AT_MOST``).

Every row is computed in Python with integer arithmetic (times are epoch seconds,
formatted through two lookup tables) and written with the fastest bulk path of the
database: ``COPY … FROM STDIN`` through psycopg 3 on PostgreSQL, ``executemany`` of
many-row ``INSERT``s on SQLite (``PRAGMA journal_mode=OFF``, ``synchronous=OFF`` and
``foreign_keys=OFF`` only while it writes; WAL again after), 20,000 demands per
transaction. The demands are made by one
process per CPU (``BENCH_GEN_PROCESSES``) taking chunks in turns: the random
generator's state goes round with the work, so the rows are the same, id for id,
whatever the number of processes (see :func:`_run_chunks`). Primary keys are assigned
here; PostgreSQL's sequences are moved past them afterwards. No model is instantiated
per row and no working-day calendar is consulted: a working day is taken as 7/5
calendar days, a working hour as 3 hours.

The module is used by ``bench/run.py``; run alone it builds into a fresh SQLite file
(or the empty PostgreSQL database given) and prints the rates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

STREETS = 10
COMMUNITIES_PER_STREET = 6
ESTATES_PER_COMMUNITY = 5
PEOPLE_PER_HOUSEHOLD = 2.6
HOUSEHOLDS_PER_BUILDING = 60
MONTHS = 36
CHUNK = 20_000  # demands per bulk write
DAY = 86400
# The open work of a district that keeps up: an overdue demand stays open with a chance
# of OVERDUE_SHARE × (its limit ÷ its age)² — 8 % at its deadline, 2 % at twice its limit,
# 0.5 % at four times — and none, nor any 缓办, past OPEN_AT_MOST.
OVERDUE_SHARE = 0.08
OPEN_AT_MOST = 180 * DAY
# The sweep's steps after the first deadline (actions.TIER_LIMITS_DAYS: T2 5 and T3 10
# working days), and each tier's limit, in calendar days.
TIER_AFTER = {2: 0, 3: 7 * DAY, 4: 21 * DAY}
TIER_DAYS = {2: 7 * DAY, 3: 14 * DAY}
MAINTENANCE_WORK_MEM = "512MB"  # PostgreSQL, per connection building indexes
PASSWORD = "Bench@2026"

_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_PAIRS = [a + b for a in _B32 for b in _B32]  # 1024 two-character steps of a code
_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧巧美娇平刚桂兰玉萍红峰建国志文斌辉鹏飞燕霞凤梅琴云莲真环雪荣爱妹香月媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"
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
    "楼上空调滴水",
    "消防通道被占用",
    "低保申请咨询",
    "就业培训报名",
)
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
CHANNEL_LABELS = {
    "web": "网页/扫码",
    "hotline": "热线电话",
    "hall": "服务大厅",
    "station_day": "驻点日",
    "visit": "走访",
    "wechat": "微信群",
    "qq": "QQ群",
    "box": "意见箱",
    "wish_wall": "心愿墙",
    "open311": "Open311",
}
TIER_LABELS = {
    2: "T2 街道社区限时办结",
    3: "T3 共建单位协调办结",
    4: "T4 区一线办统筹办结",
}
SATISFACTION_LABELS = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}
ANSWERS = (
    "已联系物业处理完毕，经回访居民表示满意。",
    "网格员已到现场核实并协调解决。",
    "已转交相关部门，问题已整改到位。",
)


# --- small helpers ------------------------------------------------------------------------
def tracking_code(i: int) -> str:
    """Ten characters from the alphabet of real codes, a bijection of the row index
    (scrambled by an odd multiplier mod 2**50, so neighbours do not look alike)."""
    x = (i * 0x2545F4914F6CD + 0x9E3779B97F4A) & ((1 << 50) - 1)
    p = _PAIRS
    return (
        p[x & 1023]
        + p[(x >> 10) & 1023]
        + p[(x >> 20) & 1023]
        + p[(x >> 30) & 1023]
        + p[(x >> 40) & 1023]
    )


class Clock:
    """Epoch seconds → the text a datetime column takes (UTC): a table of days and a
    table of the 86,400 times of day, so formatting a timestamp is two lookups."""

    def __init__(self, first: int, last: int, vendor: str) -> None:
        self.first_day = first // 86400 - 1
        days = last // 86400 + 2 - self.first_day
        suffix = "+00" if vendor == "postgresql" else ""
        epoch = dt.date(1970, 1, 1)
        self.days = [
            (epoch + dt.timedelta(days=self.first_day + d)).isoformat() + " " for d in range(days)
        ]
        self.hms = [t + suffix for t in _HMS]

    def __call__(self, t: int | None) -> str | None:
        if t is None:
            return None
        d, r = divmod(t, 86400)
        return self.days[d - self.first_day] + self.hms[r]

    def function(self) -> Callable[[int | None], str | None]:
        """The same as a plain function (a call to it costs half a call of the object)."""
        days, hms, first = self.days, self.hms, self.first_day

        def clock(t: int | None) -> str | None:
            if t is None:
                return None
            return days[t // 86400 - first] + hms[t % 86400]

        return clock


@dataclass
class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite. Columns the
    caller does not give get the model field's default (a constant) or NULL, so a
    column added to a model later does not break the generator."""

    model: type
    columns: Sequence[str]
    vendor: str
    raw: object  # the DB-API connection
    fill: tuple = ()
    all_columns: list[str] = field(default_factory=list)
    rows_written: int = 0

    def __post_init__(self) -> None:
        from django.db import connection
        from django.db.models import NOT_PROVIDED

        given = list(self.columns)
        extra, fill = [], []
        for f in self.model._meta.concrete_fields:
            if f.column in given:
                continue
            if f.has_default() and not callable(f.default):
                value = f.get_db_prep_save(f.default, connection)
            elif f.has_default():
                value = f.get_db_prep_save(f.get_default(), connection)
            elif f.null:
                value = None
            elif f.default is NOT_PROVIDED and getattr(f, "db_default", NOT_PROVIDED) is not (
                NOT_PROVIDED
            ):
                continue
            else:
                raise RuntimeError(
                    f"{self.model.__name__}.{f.name}: no value for a NOT NULL column"
                )
            if hasattr(value, "dumps"):  # psycopg's Jsonb wrapper
                value = json.dumps(value.obj)
            if isinstance(value, dict | list):
                value = json.dumps(value)
            extra.append(f.column)
            fill.append(value)
        self.all_columns = given + extra
        self.fill = tuple(fill)

    def write(self, rows: Iterable[tuple]) -> None:
        table = self.model._meta.db_table
        cols = ", ".join(f'"{c}"' for c in self.all_columns)
        fill = self.fill
        if self.vendor == "postgresql":
            with (
                self.raw.cursor() as cur,
                cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy,
            ):
                n = 0
                if fill:
                    for row in rows:
                        copy.write_row(row + fill)
                        n += 1
                else:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
        else:
            # Many rows per INSERT (VALUES (…), (…), …, at most 999 parameters): a third
            # less work per row than one statement per row.
            one = "(" + ", ".join("?" * len(self.all_columns)) + ")"
            if fill:
                rows = [row + fill for row in rows]
            elif not isinstance(rows, list):
                rows = list(rows)
            n = len(rows)
            k = max(1, 999 // len(self.all_columns))
            whole = n - n % k
            cur = self.raw.cursor()
            if whole:
                flat = chain.from_iterable
                cur.executemany(
                    f'INSERT INTO "{table}" ({cols}) VALUES ' + ", ".join([one] * k),
                    [tuple(flat(rows[i : i + k])) for i in range(0, whole, k)],
                )
            if whole < n:
                cur.executemany(f'INSERT INTO "{table}" ({cols}) VALUES {one}', rows[whole:])
            cur.close()
        self.rows_written += n


# --- the district ---------------------------------------------------------------------------
@dataclass
class Community:
    pk: int
    name: str
    street: int  # the street's pk
    estates: list[int]
    buildings: tuple[int, int]  # first pk, last pk + 1
    residents: tuple[int, int]
    workers: list[tuple[int, str]]  # (user pk, name); the first is the secretary
    weight: float = 1.0


@dataclass
class District:
    district: int
    streets: list[int]
    communities: list[Community]
    district_user: int
    street_users: dict[int, int]  # street pk → street office user pk
    areas: int = 0
    residents: int = 0
    users: int = 0
    seconds: float = 0.0


def _bulk_session(vendor: str):
    """The raw connection, ready for a long bulk write; returns a function that undoes
    the settings."""
    from django.db import connection

    connection.ensure_connection()
    raw = connection.connection
    if vendor == "sqlite":
        # No journal while loading, as no waiting for the disk (synchronous=OFF): a load
        # that fails leaves a database to throw away. Each page is written once, not to
        # the WAL and again at its checkpoint (a million demands: 20–25 % faster).
        (mode,) = raw.execute("PRAGMA journal_mode").fetchone()
        raw.execute("PRAGMA journal_mode=OFF")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA foreign_keys=OFF")
        raw.execute("PRAGMA cache_size=-400000")

        def restore() -> None:
            (now,) = raw.execute(f"PRAGMA journal_mode={mode}").fetchone()
            if now != mode:
                raise RuntimeError(f"the database stayed in journal mode {now}, not {mode}")
            raw.execute("PRAGMA synchronous=NORMAL")
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA cache_size=-2000")

        return raw, restore
    # PostgreSQL: a commit does not wait for its WAL to reach the disk (the WAL writer
    # flushes it a moment later); the SQLite counterpart of synchronous=OFF above.
    with raw.cursor() as cur:
        cur.execute("SET synchronous_commit = off")

    def restore_pg() -> None:
        with raw.cursor() as cur:
            cur.execute("RESET synchronous_commit")

    return raw, restore_pg


class IndexesDropped:
    """Drop a table's secondary indexes for a bulk load and build them again after it
    (one sort each instead of a B-tree insert per row). Indexes that back a constraint
    (primary key, UNIQUE) stay. The rebuild is part of the time measured and uses every
    CPU (:func:`processes`): on PostgreSQL the indexes are built several at a time, one
    per connection, the biggest tables' first; on SQLite (one writer) the sorts of
    ``CREATE INDEX`` get helper threads (``PRAGMA threads``). On PostgreSQL the deferred
    foreign-key triggers are skipped while loading (``session_replication_role =
    replica``): the generator writes consistent ids, and :func:`check_foreign_keys`
    verifies them afterwards with one join per key."""

    def __init__(self, models: Sequence[type], drop: bool = True) -> None:
        self.tables = [m._meta.db_table for m in models] if drop else []
        self.saved: list[tuple[str, str]] = []  # (table, CREATE INDEX …)

    def __enter__(self) -> IndexesDropped:
        from django.db import connection

        with connection.cursor() as cursor:
            for table in self.tables:
                if connection.vendor == "postgresql":
                    cursor.execute(
                        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s"
                        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                        " WHERE c.conname = i.indexname)",
                        [table],
                    )
                else:
                    cursor.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                        " AND tbl_name = %s AND sql IS NOT NULL",
                        [table],
                    )
                for name, sql in cursor.fetchall():
                    self.saved.append((table, sql))
                    cursor.execute(f'DROP INDEX "{name}"')
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc) -> None:
        from django.db import connection

        n = processes()
        with connection.cursor() as cursor:
            if connection.vendor != "postgresql":
                # One sorter thread per other CPU; the sorts in runs of a few MB
                # (cache_size), so that the helper threads get work (one run that fits
                # in memory is sorted by this thread alone).
                cursor.execute("PRAGMA cache_size")
                cache = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA threads = {n - 1}")
                cursor.execute("PRAGMA cache_size = -2000")
                try:
                    for _table, sql in self.saved:
                        cursor.execute(sql)
                finally:
                    cursor.execute("PRAGMA threads = 0")
                    cursor.execute(f"PRAGMA cache_size = {cache}")
                return
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            sizes = {}
            for table in {t for t, _sql in self.saved}:
                cursor.execute("SELECT pg_relation_size(%s::regclass)", [f'"{table}"'])
                sizes[table] = cursor.fetchone()[0]
            # Longest first (the biggest table, the widest keys), so the last to finish
            # are short ones.
            todo = sorted(self.saved, key=lambda ts: (-sizes[ts[0]], -ts[1].count(",")))
            self._build(cursor.execute, [sql for _table, sql in todo], n)

    @staticmethod
    def _build(execute: Callable[[str], object], todo: list[str], n: int) -> None:
        """PostgreSQL: the ``CREATE INDEX`` statements on ``n`` connections at once (this
        one and ``n - 1`` more; builds on one table only share a lock)."""
        import threading

        import psycopg
        from django.db import connection

        lock = threading.Lock()
        failed: list[BaseException] = []

        def run(execute: Callable[[str], object]) -> None:
            while True:
                with lock:
                    if not todo or failed:
                        return
                    sql = todo.pop(0)
                try:
                    execute(sql)
                except BaseException as e:
                    with lock:
                        failed.append(e)
                    return

        others, threads = [], []
        try:
            for _ in range(min(n, len(todo)) - 1):
                other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
                others.append(other)
                other.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
                threads.append(threading.Thread(target=run, args=(other.execute,)))
                threads[-1].start()
            run(execute)
        finally:
            for thread in threads:
                thread.join()
            for other in others:
                other.close()
        if failed:
            raise failed[0]


def check_foreign_keys(models: Sequence[type]) -> int:
    """Rows whose foreign key points nowhere (0 when the load was consistent)."""
    from django.db import connection

    bad = 0
    with connection.cursor() as cursor:
        for model in models:
            for f in model._meta.concrete_fields:
                if not f.is_relation or not f.db_constraint:
                    continue
                target = f.related_model._meta
                cursor.execute(
                    f'SELECT COUNT(*) FROM "{model._meta.db_table}" t WHERE t."{f.column}" IS NOT'
                    f' NULL AND NOT EXISTS (SELECT 1 FROM "{target.db_table}" r'
                    f' WHERE r."{target.pk.column}" = t."{f.column}")'
                )
                bad += cursor.fetchone()[0]
    return bad


def _next_pk(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def fix_sequences(models: Iterable[type]) -> None:
    """PostgreSQL: move each table's id sequence past the ids written here."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'GREATEST((SELECT MAX(id) FROM "{table}"), 1))'
            )


def _name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def build_district(
    residents: int = 300_000, seed: int = 1, log: Callable[[str], None] = print
) -> District:
    """The area tree, the residents and the staff, into an empty (migrated) database."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from tongxin.accounts.models import User, UserRole
    from tongxin.areas.models import Area, Level, Responsibility, Role
    from tongxin.people.models import Resident, pinyin_keys

    started = time.perf_counter()
    vendor = connection.vendor
    rng = random.Random(seed)
    step = Area.steplen

    def seg(n: int) -> str:
        return Area._int2str(n).rjust(step, "0")

    households_total = max(1, round(residents / PEOPLE_PER_HOUSEHOLD))
    n_comm = STREETS * COMMUNITIES_PER_STREET
    comm_weights = [0.6 + rng.random() for _ in range(n_comm)]
    total_w = sum(comm_weights)
    households_per = [max(1, round(households_total * w / total_w)) for w in comm_weights]

    # Areas: (id, path, depth, numchild, name, level, code, unit, room)
    area_rows: list[tuple] = []
    pk = _next_pk(Area)
    district_pk = pk
    area_rows.append(
        (pk, seg(1), 1, STREETS, "同心区", Level.DISTRICT, "510399", "", ""),
    )
    pk += 1
    streets: list[int] = []
    communities: list[Community] = []
    building_rows: list[tuple] = []
    household_rows: list[tuple] = []
    household_of_building: list[tuple[int, int, str]] = []  # (household pk, building pk, addr)
    street_paths = []
    for s in range(STREETS):
        s_path = seg(1) + seg(s + 1)
        s_pk = pk
        pk += 1
        streets.append(s_pk)
        street_paths.append(s_path)
        area_rows.append(
            (s_pk, s_path, 2, COMMUNITIES_PER_STREET, f"第{s + 1}街道", Level.STREET, "", "", "")
        )
        for c in range(COMMUNITIES_PER_STREET):
            ci = s * COMMUNITIES_PER_STREET + c
            c_path = s_path + seg(c + 1)
            c_pk = pk
            pk += 1
            c_name = f"{s + 1}街{c + 1}社区"
            area_rows.append(
                (c_pk, c_path, 3, ESTATES_PER_COMMUNITY, c_name, Level.COMMUNITY, "", "", "")
            )
            communities.append(
                Community(c_pk, c_name, s_pk, [], (0, 0), (0, 0), [], comm_weights[ci])
            )
        # the estates, buildings and households of the street's communities come below
    # Estates, buildings, households: ids after all communities, per community contiguous.
    for ci, comm in enumerate(communities):
        c_path = street_paths[ci // COMMUNITIES_PER_STREET] + seg(ci % COMMUNITIES_PER_STREET + 1)
        n_house = households_per[ci]
        n_build = max(ESTATES_PER_COMMUNITY, -(-n_house // HOUSEHOLDS_PER_BUILDING))
        per_estate = [n_build // ESTATES_PER_COMMUNITY] * ESTATES_PER_COMMUNITY
        for e in range(n_build % ESTATES_PER_COMMUNITY):
            per_estate[e] += 1
        estate_pks = list(range(pk, pk + ESTATES_PER_COMMUNITY))
        pk += ESTATES_PER_COMMUNITY
        comm.estates = estate_pks
        first_building = pk
        b_index = 0
        houses_left = n_house
        for e, e_pk in enumerate(estate_pks):
            e_path = c_path + seg(e + 1)
            e_name = f"{comm.name}{e + 1}号小区"
            area_rows.append(
                (e_pk, e_path, 4, per_estate[e], e_name, Level.ESTATE, "", "", ""),
            )
            for b in range(per_estate[e]):
                b_pk = first_building + b_index
                b_index += 1
                left_buildings = n_build - b_index + 1
                in_building = min(houses_left, -(-houses_left // left_buildings))
                houses_left -= in_building
                b_path = e_path + seg(b + 1)
                building_rows.append(
                    (b_pk, b_path, 5, in_building, f"{b + 1}栋", Level.BUILDING, "", "", "")
                )
                for h in range(in_building):
                    unit = str(h // 12 + 1)
                    room = f"{h % 12 // 2 + 1}0{h % 2 + 1}"
                    household_rows.append(
                        (b_path + seg(h + 1), 6, 0, f"{unit}单元{room}", unit, room, b_pk, e_name)
                    )
        pk = first_building + n_build
        comm.buildings = (first_building, pk)
    # Households last (the biggest level), ids contiguous per building.
    households: list[tuple] = []
    h_pk = pk
    for path, depth, numchild, name, unit, room, b_pk, e_name in household_rows:
        households.append((h_pk, path, depth, numchild, name, Level.HOUSEHOLD, "", unit, room))
        household_of_building.append((h_pk, b_pk, e_name))
        h_pk += 1
    # Which community each building is in (for the residents' address text).
    comm_of_building: dict[int, Community] = {}
    for comm in communities:
        for b in range(*comm.buildings):
            comm_of_building[b] = comm
    b_names = {row[0]: row[4] for row in building_rows}

    # Residents: about PEOPLE_PER_HOUSEHOLD per household, ids contiguous per community.
    pinyin_cache: dict[str, tuple[str, str]] = {}
    now_text = dt.datetime.now(dt.UTC)
    clock = Clock(int(now_text.timestamp()) - 86400, int(now_text.timestamp()) + 86400, vendor)
    now_s = clock(int(now_text.timestamp()))
    r_pk = _next_pk(Resident)
    resident_rows: list[tuple] = []
    street_names = {s: f"第{i + 1}街道" for i, s in enumerate(streets)}
    left = residents
    houses_left = len(household_of_building)
    comm_first_resident: dict[int, int] = {}
    for h_pk_, b_pk, e_name in household_of_building:
        comm = comm_of_building[b_pk]
        comm_first_resident.setdefault(comm.pk, r_pk)
        size = max(1, min(left, round(left / houses_left + rng.uniform(-1.2, 1.2))))
        houses_left -= 1
        left -= size
        address = (
            f"同心区 / {street_names[comm.street]} / {comm.name} / {e_name} / "
            f"{b_names[b_pk]} / {households[h_pk_ - households[0][0]][4]}"
        )
        for k in range(size):
            name = _name(rng)
            keys = pinyin_cache.get(name)
            if keys is None:
                keys = pinyin_cache[name] = pinyin_keys(name)
            phone = f"13{rng.randrange(10**9):09d}" if rng.random() < 0.6 else ""
            born = dt.date(1935 + rng.randrange(85), 1 + rng.randrange(12), 1 + rng.randrange(28))
            resident_rows.append(
                (
                    r_pk,
                    name,
                    "M" if rng.random() < 0.5 else "F",
                    born.isoformat(),
                    None,
                    phone,
                    h_pk_,
                    "户主" if k == 0 else ("配偶" if k == 1 else "子女"),
                    "|elderly_alone|" if born.year < 1950 and size == 1 else "",
                    "",
                    keys[0],
                    keys[1],
                    phone[-4:],
                    address[-300:],
                    now_s,
                    now_s,
                )
            )
            r_pk += 1
        if left <= 0:
            break
    ends = sorted(comm_first_resident.items(), key=lambda kv: kv[1])
    for i, (c_pk, first) in enumerate(ends):
        last = ends[i + 1][1] if i + 1 < len(ends) else r_pk
        next(c for c in communities if c.pk == c_pk).residents = (first, last)

    raw, restore = _bulk_session(vendor)
    try:
        with transaction.atomic():
            area_cols = ("id", "path", "depth", "numchild", "name", "level", "code", "unit", "room")
            w = Writer(Area, area_cols, vendor, raw)
            w.write(area_rows)
            w.write(building_rows)
            w.write(households)
            rw = Writer(
                Resident,
                (
                    "id",
                    "name",
                    "gender",
                    "birth_date",
                    "id_number",
                    "phone",
                    "household_id",
                    "relation",
                    "tags",
                    "note",
                    "name_pinyin",
                    "name_initials",
                    "phone_tail",
                    "address_text",
                    "created_at",
                    "updated_at",
                ),
                vendor,
                raw,
            )
            rw.write(resident_rows)
            # Staff: a district office, a street office per street, three community
            # workers per community (the first is its secretary). One password hash.
            password = make_password(PASSWORD)
            users: list[User] = [
                User(
                    username="bench_district",
                    full_name="区一线办",
                    role=UserRole.DISTRICT_OFFICE,
                    area_id=district_pk,
                    password=password,
                )
            ]
            for i, s_pk in enumerate(streets):
                users.append(
                    User(
                        username=f"bench_street{i + 1}",
                        full_name=f"第{i + 1}街道办",
                        role=UserRole.STREET_OFFICE,
                        area_id=s_pk,
                        password=password,
                    )
                )
            for ci, comm in enumerate(communities):
                for k in range(3):
                    users.append(
                        User(
                            username=f"bench_c{ci + 1}_{k + 1}",
                            full_name=_name(rng),
                            role=UserRole.COMMUNITY_WORKER,
                            area_id=comm.pk,
                            password=password,
                        )
                    )
            User.objects.bulk_create(users)
            made = {u.username: u for u in User.objects.filter(username__startswith="bench_")}
            district_user = made["bench_district"].pk
            street_users = {s_pk: made[f"bench_street{i + 1}"].pk for i, s_pk in enumerate(streets)}
            chains = [
                Responsibility(area_id=district_pk, user_id=district_user, role=Role.STATION_CADRE)
            ]
            for s_pk, u in street_users.items():
                chains.append(Responsibility(area_id=s_pk, user_id=u, role=Role.STATION_CADRE))
            for ci, comm in enumerate(communities):
                for k in range(3):
                    u = made[f"bench_c{ci + 1}_{k + 1}"]
                    comm.workers.append((u.pk, u.full_name))
                secretary = comm.workers[0][0]
                chains.append(
                    Responsibility(
                        area_id=comm.pk, user_id=secretary, role=Role.COMMUNITY_SECRETARY
                    )
                )
            Responsibility.objects.bulk_create(chains)
    finally:
        restore()
    fix_sequences([Area, Resident])
    out = District(
        district=district_pk,
        streets=streets,
        communities=communities,
        district_user=district_user,
        street_users=street_users,
        areas=len(area_rows) + len(building_rows) + len(households),
        residents=len(resident_rows),
        users=len(users),
        seconds=time.perf_counter() - started,
    )
    log(
        f"district: {out.areas:,} areas, {out.residents:,} residents, {out.users} users "
        f"in {out.seconds:.1f} s"
    )
    return out


# --- the demands ----------------------------------------------------------------------------
@dataclass
class DemandStats:
    demands: int = 0
    events: int = 0
    seconds: float = 0.0
    by_state: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.demands / self.seconds if self.seconds else 0.0


DEMAND_COLUMNS = (
    "id",
    "tracking_code",
    "submission_token",
    "area_id",
    "community_id",
    "address",
    "category_id",
    "title",
    "description",
    "extra",
    "channel",
    "reporter_id",
    "reporter_name",
    "reporter_phone",
    "is_anonymous",
    "entered_by_id",
    "state",
    "tier",
    "handler_id",
    "handler_unit_id",
    "department_id",
    "pool",
    "merged_into_id",
    "created_at",
    "clock_started_at",
    "warn_at",
    "deadline",
    "first_deadline",
    "first_response_at",
    "resolved_at",
    "resolved_on_time",
    "closed_at",
    "postponed",
    "public_answer",
    "satisfaction",
    "resident_rating",
    "rework_count",
)
EVENT_COLUMNS = (
    "id",
    "demand_id",
    "at",
    "kind",
    "actor_id",
    "public",
    "text",
    "state_after",
    "tier_after",
    "data",
)


def processes() -> int:
    """How many processes build and write the demands: ``BENCH_GEN_PROCESSES``, by
    default one per CPU (at most 4); 1 does it all in this process."""
    default = min(os.cpu_count() or 1, 4)
    return max(1, int(os.environ.get("BENCH_GEN_PROCESSES") or default))


@dataclass
class _Ring:
    """One process's two ends of the ring the chunks go round: the baton (the random
    generator's state and the next event id) comes from the previous process and goes
    on to the next one as soon as a chunk's rows are built, before they are written."""

    take: object  # multiprocessing Connection (receiving end)
    give: object  # multiprocessing Connection (sending end)
    check: Callable[[], None]  # raises when a partner process is gone

    def get(self) -> tuple:
        while not self.take.poll(0.5):
            self.check()
        return self.take.recv()

    def put(self, baton: tuple) -> None:
        self.give.send(baton)


def _run_chunks(
    me: int,
    procs: int,
    chunks: Sequence[tuple[int, int]],
    make_chunk: Callable[[int, int, int], tuple[list, list, int]],
    rng: random.Random,
    event_pk: int,
    write: Callable[[list, list], None],
    ring: _Ring | None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Process ``me`` of ``procs``: chunks ``me``, ``me + procs``, … Each starts from the
    random state and event id the previous chunk ended with, so the rows are the same,
    id for id, whatever the number of processes; only the building of rows is taken in
    turns, the writing of one chunk overlaps the building and writing of the next."""
    times = {"rows": 0.0, "write": 0.0, "wait": 0.0}
    for i in range(me, len(chunks), procs):
        t0 = time.perf_counter()
        if ring is not None and i > 0:
            event_pk, state = ring.get()
            rng.setstate(state)
        t1 = time.perf_counter()
        made, size = chunks[i]
        drows, erows, event_pk = make_chunk(made, size, event_pk)
        if ring is not None and i + 1 < len(chunks):
            ring.put((event_pk, rng.getstate()))
        t2 = time.perf_counter()
        write(drows, erows)
        t3 = time.perf_counter()
        times["wait"] += t1 - t0
        times["rows"] += t2 - t1
        times["write"] += t3 - t2
        if progress:
            progress(made + size, event_pk)
    return times


class _Helpers:
    """Processes 1 … ``procs - 1`` of the ring, forked from this one (the rows are built
    by the code already loaded; nothing is pickled but the baton and a small result).
    Each writes on a connection of its own: on PostgreSQL straight into the tables (COPY
    from several sessions at once); on SQLite, which has one writer per database, into
    a scratch database file next to the main one (same table definitions, no secondary
    indexes), which :meth:`merge` copies into the main database with one
    ``INSERT … SELECT`` per table — far cheaper than binding every row from Python
    again. The scratch files are removed by :meth:`close`."""

    def __init__(self, procs: int, vendor: str, models: Sequence[type], target) -> None:
        import multiprocessing as mp
        import sqlite3
        import tempfile

        from django.db import connection

        ctx = mp.get_context("fork")
        self.models = models
        self.scratch: list[str] = []
        self.workers: list = []
        self.results_in: list = []
        self.done: dict[int, dict] = {}
        self.pipes = [ctx.Pipe(duplex=False) for _ in range(procs)]  # [k]: k → k + 1
        parent = os.getpid()

        def parent_alive() -> None:
            if os.getppid() != parent:
                raise RuntimeError("the generating process is gone")

        if vendor == "postgresql":
            params = connection.get_connection_params()
        else:
            folder = Path(connection.settings_dict["NAME"]).parent
            with connection.cursor() as cursor:
                schema = []
                for model in models:
                    cursor.execute(
                        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s",
                        [model._meta.db_table],
                    )
                    schema.append(cursor.fetchone()[0])
            for _ in range(1, procs):
                fd, path = tempfile.mkstemp(prefix="bench-chunks-", suffix=".sqlite3", dir=folder)
                os.close(fd)
                self.scratch.append(path)
                con = sqlite3.connect(path)
                for sql in schema:
                    con.execute(sql)
                con.commit()
                con.close()

        def open_raw(me: int):
            if vendor == "postgresql":
                import psycopg

                raw = psycopg.connect(**params)
                raw.execute("SET session_replication_role = replica")
                raw.execute("SET synchronous_commit = off")
                raw.commit()
                return raw
            raw = sqlite3.connect(self.scratch[me - 1])
            raw.execute("PRAGMA journal_mode=OFF")
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("PRAGMA cache_size=-100000")
            return raw

        def child(me: int, ring: _Ring, result) -> None:
            try:
                raw = open_raw(me)
                out = target(me, ring, raw)
                raw.close()
                result.send(("ok", out))
            except BaseException:
                import traceback

                result.send(("error", traceback.format_exc()))

        try:
            for me in range(1, procs):
                take, give = ctx.Pipe(duplex=False)
                ring = _Ring(self.pipes[me - 1][0], self.pipes[me][1], parent_alive)
                proc = ctx.Process(target=child, args=(me, ring, give), daemon=True)
                proc.start()
                self.workers.append(proc)
                self.results_in.append(take)
        except BaseException:
            self.close()
            raise

    def ring(self, me: int) -> _Ring:
        return _Ring(self.pipes[me - 1][0], self.pipes[me][1], self.check)

    def _result(self, i: int) -> bool:
        """Whether helper ``i`` has sent its result (raises the error it sent)."""
        if i in self.done:
            return True
        if not self.results_in[i].poll():
            return False
        kind, value = self.results_in[i].recv()
        if kind == "error":
            raise RuntimeError(f"generating process {i + 1} failed:\n{value}")
        self.done[i] = value
        return True

    def check(self) -> None:
        for i, proc in enumerate(self.workers):
            if not proc.is_alive() and not self._result(i):
                raise RuntimeError(f"generating process {i + 1} died ({proc.exitcode})")

    def results(self) -> list[dict]:
        """Each helper's result, once it has written its last chunk."""
        for i, proc in enumerate(self.workers):
            while not self._result(i):
                self.results_in[i].poll(0.5)
                self.check()
            proc.join()
        return [self.done[i] for i in range(len(self.workers))]

    def merge(self, raw) -> None:
        """SQLite: the helpers' rows into the main database (ids are final already)."""
        from django.db import transaction

        for path in self.scratch:
            raw.execute("ATTACH DATABASE ? AS bench_chunks", (path,))
            try:
                with transaction.atomic():
                    for model in self.models:
                        table = model._meta.db_table
                        raw.execute(
                            f'INSERT INTO main."{table}" SELECT * FROM bench_chunks."{table}"'
                        )
            finally:
                raw.execute("DETACH DATABASE bench_chunks")

    def close(self) -> None:
        for proc in self.workers:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        for path in self.scratch:
            for p in (path, path + "-journal"):
                if os.path.exists(p):
                    os.remove(p)
        self.scratch = []


def add_demands(
    district: District,
    count: int,
    *,
    total: int | None = None,
    start: int = 0,
    seed: int = 7,
    now: dt.datetime | None = None,
    log: Callable[[str], None] = print,
) -> DemandStats:
    """Append demands ``start`` … ``start + count - 1`` of a timeline of ``total`` (default
    ``count``) demands spread over the last 36 months, oldest first, with their events.
    Ids grow with the time of intake, as in a real table, so the indexes on times are
    appended to rather than written all over; a timeline can be built in two calls
    (``start=0, count=100_000`` then ``start=100_000, count=900_000``)."""
    from django.db import connection, transaction

    from tongxin.demands.models import Category, Demand, DemandEvent, TimeUnit

    vendor = connection.vendor
    total = total or start + count
    now = now or dt.datetime.now(dt.UTC)
    now_t = int(now.timestamp())
    span = MONTHS * 30 * 86400
    clock = Clock(now_t - span - 86400, now_t + 120 * 86400, vendor).function()
    first_pk = _next_pk(Demand)
    event_pk = _next_pk(DemandEvent)
    rng = random.Random(seed + first_pk)
    rand = rng.random

    categories = []
    for c in Category.objects.filter(is_active=True).order_by("sort_order", "pk"):
        if c.time_unit == TimeUnit.WORKING_HOURS:
            limit = c.time_limit * 3 * 3600
        else:
            limit = c.time_limit * 7 * 86400 // 5
        categories.append((c.pk, limit, c.code == "infrastructure"))
    cat_weights = [max(1, 20 - 2 * i) for i in range(len(categories))]
    comms = district.communities
    comm_weights = [c.weight for c in comms]
    channels = [c for c, _w in CHANNELS]
    channel_weights = [w for _c, w in CHANNELS]
    pub_submitted = {
        c: f"已收到您的诉求（{CHANNEL_LABELS[c]}），社区将尽快派单办理。" for c in channels
    }
    descriptions = [f"{t}，请尽快处理。" for t in TITLES]
    sat_json = {k: json.dumps({"satisfaction": k}) for k in SATISFACTION_LABELS}
    tier_json = {t: json.dumps({"tier": t}) for t in (2, 3, 4)}
    street_name = {s: f"第{i + 1}街道" for i, s in enumerate(district.streets)}
    to_json = {pk: json.dumps({"to": name}) for c in comms for pk, name in c.workers}
    # The texts that depend on the worker or the community, made once, not per row.
    claimed_text = {pk: f"{name} 已接单，正在办理。" for c in comms for pk, name in c.workers}
    escalated_text = {
        (c.pk, up): f"超过办理时限，已升级为{TIER_LABELS[up]}（{where}）。"
        for c in comms
        for up, where in ((2, c.name), (3, street_name[c.street]), (4, "同心区"))
    }
    true, false = True, False
    by_state: dict[str, int] = {}
    latest = now_t - 60

    def upto(t: int, at: int) -> int:
        """``at``, or, were it after a minute ago, a moment between ``t`` and then: what
        has happened by now, spread over the time there was for it (not piled up on
        the last minute, nor in the future)."""
        return at if at <= latest else t + int(rand() * max(0, latest - t))

    def make_chunk(made: int, size: int, event_pk: int) -> tuple[list, list, int]:
        """Demands ``made`` … ``made + size - 1`` of this call and their events (ids from
        ``event_pk``), drawn from ``rng`` where the previous chunk left it."""
        picks_c = rng.choices(comms, weights=comm_weights, k=size)
        picks_k = rng.choices(categories, weights=cat_weights, k=size)
        picks_ch = rng.choices(channels, weights=channel_weights, k=size)
        drows: list[tuple] = []
        erows: list[tuple] = []
        ev = erows.append
        for j in range(size):
            pk = first_pk + made + j
            comm = picks_c[j]
            cat_pk, limit, needs_extra = picks_k[j]
            channel = picks_ch[j]
            # Over 36 months, somewhat busier lately; oldest first.
            age = int(span * (1.0 - (start + made + j + rand()) / total) ** 1.2)
            created = now_t - age
            deadline = created + limit
            warn = created + limit * 3 // 4
            worker, _worker_name = comm.workers[int(rand() * 3)]
            secretary = comm.workers[0][0]
            u = rand()
            tier = 1
            handler = None
            first_response = resolved = closed = None
            on_time = None
            satisfaction = rating = answer = ""
            merged_into = None
            postponed = false
            rework = 0
            # What a demand of this age can still be, as in a district that works:
            # most work is done within its limit; what is not goes up a tier at a time
            # (T2 at the deadline, T3 a week later, T4 two weeks after that) and is
            # rarer the older it is; a resolved demand is visited within days, a
            # returned one sent out again. Only 缓办 lasts, and not past OPEN_AT_MOST.
            if age < limit and rand() * limit < limit - 0.9 * age:
                # Open, the likelier the younger: all at first, a tenth at its deadline.
                state = ("submitted", "dispatched", "accepted", "in_progress")[int(rand() * 4)]
            elif limit <= age < OPEN_AT_MOST and u * age * age < OVERDUE_SHARE * limit * limit:
                state = ("dispatched", "in_progress")[int(rand() * 2)]
            elif u < 0.012:
                tier = 4  # long overdue, settled at the dispatch meeting
                state = "closed"
            elif u < 0.02:
                state = "returned" if age < 7 * DAY else "closed"
            elif u < 0.04:
                state = "merged"
                merged_into = pk - 1 if pk > 1 else None
            elif u < 0.055:
                state = "withdrawn"
            elif u < 0.06 and age < OPEN_AT_MOST:
                state = "in_progress"
                postponed = true  # 缓办
            else:
                state = "closed"  # or waiting for its return visit, when that is to come
            open_ = state in ("submitted", "dispatched", "accepted", "in_progress", "returned")
            if open_ and not postponed and deadline <= now_t:
                # The sweep has moved it up, tier by tier.
                over = age - limit
                tier = next(up for up in (4, 3, 2) if over >= TIER_AFTER[up])
            elif tier == 1 and rand() < 0.12 and state not in ("submitted", "returned"):
                tier = 2 if rand() < 0.8 else 3
            # -- events, as the actions write them --
            t = created
            actor = None if channel in ("web", "open311", "wish_wall") else worker
            ev(
                (
                    event_pk,
                    pk,
                    clock(t),
                    "submitted",
                    actor,
                    true,
                    pub_submitted[channel],
                    "submitted",
                    1,
                    "{}",
                )
            )
            event_pk += 1
            if state not in ("submitted", "withdrawn", "merged") or rand() < 0.5:
                t = upto(t, t + 600 + int(rand() * 14400))
                first_response = t
                ev(
                    (
                        event_pk,
                        pk,
                        clock(t),
                        "dispatched",
                        secretary,
                        false,
                        "",
                        "dispatched",
                        1,
                        to_json[worker],
                    )
                )
                ev(
                    (
                        event_pk + 1,
                        pk,
                        clock(t),
                        "dispatched",
                        secretary,
                        true,
                        "社区已派单（承办人），正在安排办理。",
                        "dispatched",
                        1,
                        "{}",
                    )
                )
                event_pk += 2
                handler = worker
                if state not in ("dispatched",):
                    t = upto(t, t + 300 + int(rand() * 7200))
                    ev(
                        (
                            event_pk,
                            pk,
                            clock(t),
                            "claimed",
                            worker,
                            true,
                            claimed_text[worker],
                            "accepted",
                            1,
                            "{}",
                        )
                    )
                    event_pk += 1
                    if state not in ("accepted",):
                        t = upto(t, t + 600 + int(rand() * 3600))
                        ev(
                            (
                                event_pk,
                                pk,
                                clock(t),
                                "started",
                                worker,
                                false,
                                "",
                                "in_progress",
                                1,
                                "{}",
                            )
                        )
                        event_pk += 1
            for up in range(2, tier + 1):
                t_up = upto(t, created + limit + TIER_AFTER[up])
                ev(
                    (
                        event_pk,
                        pk,
                        clock(t_up),
                        "escalated",
                        None,
                        true,
                        escalated_text[comm.pk, up],
                        "dispatched",
                        up,
                        tier_json[up],
                    )
                )
                event_pk += 1
                t = max(t, t_up)
            if state in ("resolved", "closed"):
                took = int(limit * (0.1 + 1.2 * rand() ** 1.5))
                resolved = max(created + took, t + 60)
                if resolved > latest and deadline > now_t:
                    # Not done by now, and still within its time: being worked on.
                    state, open_, resolved = "in_progress", true, None
                else:
                    resolved = upto(t, resolved)
            if tier > 1 and open_ and not postponed:
                if tier == 4:  # until the next dispatch meeting
                    deadline = now_t + DAY * (1 + int(rand() * 20))
                    warn = deadline - DAY
                else:  # the tier's own limit from the moment it went up, at least its own
                    deadline = max(t + TIER_DAYS[tier], deadline)
                    warn = deadline - TIER_DAYS[tier] // 4
            if state == "returned":
                ev(
                    (
                        event_pk,
                        pk,
                        clock(upto(t, t + 3600)),
                        "returned",
                        worker,
                        false,
                        "不属于本网格，请重新派单。",
                        "returned",
                        tier,
                        "{}",
                    )
                )
                event_pk += 1
                handler = None
            elif state == "merged":
                ev(
                    (
                        event_pk,
                        pk,
                        clock(upto(t, t + 1800)),
                        "merged",
                        secretary,
                        true,
                        "与同类诉求合并办理，办理结果将一并答复您。",
                        "merged",
                        tier,
                        json.dumps({"into": merged_into}),
                    )
                )
                event_pk += 1
            elif state == "withdrawn":
                ev(
                    (
                        event_pk,
                        pk,
                        clock(upto(t, t + 1800)),
                        "withdrawn",
                        None,
                        true,
                        "反映人撤回了诉求。",
                        "withdrawn",
                        tier,
                        "{}",
                    )
                )
                event_pk += 1
            elif postponed:
                ev(
                    (
                        event_pk,
                        pk,
                        clock(upto(t, t + 3600)),
                        "postponed",
                        secretary,
                        false,
                        "需待资金落实后办理。",
                        "in_progress",
                        tier,
                        "{}",
                    )
                )
                event_pk += 1
            elif state in ("resolved", "closed"):
                on_time = resolved <= deadline
                answer = ANSWERS[pk % 3]
                if state == "closed" and rand() < 0.03:
                    # Rework: the first answer was not good enough (返工).
                    rework = 1
                    ev(
                        (
                            event_pk,
                            pk,
                            clock(resolved - 7200),
                            "resolved",
                            worker,
                            true,
                            answer,
                            "resolved",
                            tier,
                            "{}",
                        )
                    )
                    ev(
                        (
                            event_pk + 1,
                            pk,
                            clock(resolved - 3600),
                            "visited",
                            secretary,
                            false,
                            "不满意",
                            "accepted",
                            tier,
                            sat_json["dissatisfied"],
                        )
                    )
                    ev(
                        (
                            event_pk + 2,
                            pk,
                            clock(resolved - 3600),
                            "reopened",
                            secretary,
                            true,
                            "回访不满意，已重新办理。",
                            "accepted",
                            tier,
                            "{}",
                        )
                    )
                    event_pk += 3
                ev(
                    (
                        event_pk,
                        pk,
                        clock(resolved),
                        "resolved",
                        worker,
                        true,
                        answer,
                        "resolved",
                        tier,
                        "{}",
                    )
                )
                event_pk += 1
                if state == "closed":
                    closed = resolved + 3600 + int(rand() * 172800)
                    if closed > latest:  # its return visit is still to come
                        state, closed = "resolved", None
                if state == "closed":
                    v = rand()
                    satisfaction = "satisfied" if v < 0.86 else ("basically" if v < 0.97 else "")
                    if not satisfaction:
                        satisfaction = "basically"
                    ev(
                        (
                            event_pk,
                            pk,
                            clock(closed),
                            "visited",
                            secretary,
                            false,
                            SATISFACTION_LABELS[satisfaction],
                            "closed",
                            tier,
                            sat_json[satisfaction],
                        )
                    )
                    event_pk += 1
                if rand() < 0.2:
                    v = rand()
                    rating = (
                        "satisfied" if v < 0.8 else ("basically" if v < 0.95 else "dissatisfied")
                    )
                    ev(
                        (
                            event_pk,
                            pk,
                            clock(upto(closed or resolved, (closed or resolved) + 86400)),
                            "rated",
                            None,
                            true,
                            SATISFACTION_LABELS[rating],
                            state,
                            tier,
                            sat_json[rating],
                        )
                    )
                    event_pk += 1
            if tier > 1 and open_ and state != "returned" and not postponed:
                # Who the escalation hands it to: the community's secretary, the street
                # office, the district office.
                handler = (
                    secretary
                    if tier == 2
                    else district.street_users[comm.street]
                    if tier == 3
                    else district.district_user
                )
            title_i = pk % len(TITLES)
            r = rand()
            if r < 0.45:
                lo, hi = comm.residents
                reporter = lo + int(rand() * (hi - lo)) if hi > lo else None
                reporter_name, anonymous = "", false
            elif r < 0.9:
                reporter, reporter_name, anonymous = None, "居民", false
            else:
                reporter, reporter_name, anonymous = None, "", true
            a = rand()
            if a < 0.7:
                lo, hi = comm.buildings
                area = lo + int(rand() * (hi - lo))
            elif a < 0.9:
                area = comm.estates[int(rand() * len(comm.estates))]
            else:
                area = comm.pk
            drows.append(
                (
                    pk,
                    tracking_code(pk),
                    None,
                    area,
                    comm.pk,
                    "",
                    cat_pk,
                    TITLES[title_i],
                    descriptions[title_i],
                    '{"facility": "路灯"}' if needs_extra else "{}",
                    channel,
                    reporter,
                    reporter_name,
                    "",
                    anonymous,
                    actor,
                    state,
                    tier,
                    handler,
                    None,
                    None,
                    false,
                    merged_into,
                    clock(created),
                    clock(created if tier == 1 else t),
                    clock(warn),
                    clock(deadline),
                    clock(created + limit),
                    clock(first_response),
                    clock(resolved),
                    on_time,
                    clock(closed),
                    postponed,
                    answer,
                    satisfaction,
                    rating,
                    rework,
                )
            )
            by_state[state] = by_state.get(state, 0) + 1
        return drows, erows, event_pk

    stats = DemandStats()
    started = time.perf_counter()
    dw = Writer(Demand, DEMAND_COLUMNS, vendor, None)
    ew = Writer(DemandEvent, EVENT_COLUMNS, vendor, None)
    chunks = [(m, min(CHUNK, count - m)) for m in range(0, count, CHUNK)]
    procs = max(1, min(processes(), len(chunks)))
    raw, restore = _bulk_session(vendor)
    dw.raw = ew.raw = raw
    drop = os.environ.get("BENCH_DROP_INDEXES", "sqlite,postgresql").split(",")
    dropped = IndexesDropped([Demand, DemandEvent], drop=vendor in drop).__enter__()
    helpers: _Helpers | None = None
    first_event = event_pk
    t_setup = time.perf_counter()
    t_merge = 0.0

    def write(drows: list[tuple], erows: list[tuple]) -> None:
        with transaction.atomic():
            dw.write(drows)
            ew.write(erows)

    logged = [0]

    def progress(made: int, event_pk: int) -> None:
        if made // 200_000 > logged[0] or made == count:
            logged[0] = made // 200_000
            el = time.perf_counter() - started
            log(
                f"  {made:,} demands, {event_pk - first_event:,} events: {made / el:,.0f} demands/s"
            )

    def helper(me: int, ring: _Ring, raw: object) -> dict:
        """A forked process's share: every ``procs``-th chunk, on its own connection."""
        dw.raw = ew.raw = raw
        dw.rows_written = ew.rows_written = 0

        def write(drows: list[tuple], erows: list[tuple]) -> None:
            dw.write(drows)
            ew.write(erows)
            raw.commit()

        times = _run_chunks(me, procs, chunks, make_chunk, rng, event_pk, write, ring)
        return {"times": times, "by_state": by_state, "events": ew.rows_written}

    try:
        if procs > 1:
            helpers = _Helpers(procs, vendor, [Demand, DemandEvent], helper)
        times = _run_chunks(
            0,
            procs,
            chunks,
            make_chunk,
            rng,
            event_pk,
            write,
            helpers and helpers.ring(0),
            progress,
        )
        events = ew.rows_written
        if helpers:
            t0 = time.perf_counter()
            for result in helpers.results():
                events += result["events"]
                for k, v in result["by_state"].items():
                    by_state[k] = by_state.get(k, 0) + v
                for k, v in result["times"].items():
                    times[f"helper {k}"] = times.get(f"helper {k}", 0.0) + v
            times["wait"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            helpers.merge(raw)
            t_merge = time.perf_counter() - t0
        started_indexes = time.perf_counter()
    finally:
        if helpers:
            helpers.close()
        dropped.__exit__(None, None, None)  # still with the bulk session's settings
        restore()
    t_indexes = time.perf_counter() - started_indexes
    log(f"  indexes rebuilt in {t_indexes:.1f} s")
    t3 = time.perf_counter()
    fix_sequences([Demand, DemandEvent])
    stats.demands = count
    stats.events = events
    stats.seconds = time.perf_counter() - started
    stats.phases = {
        "setup": t_setup - started,
        "rows": times["rows"],
        "write": times["write"],
        "wait": times["wait"],
        **{k: v for k, v in times.items() if k.startswith("helper")},
        "merge": t_merge,
        "indexes": t_indexes,
        "sequences": time.perf_counter() - t3,
    }
    log(
        f"  {procs} process(es); phases: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in stats.phases.items())
    )
    stats.by_state = by_state
    return stats


def open_work(district: District, now: dt.datetime | None = None) -> dict:
    """The shape of the open work generated, for the results and the generator's test:
    how much is open at each tier, at the dispatch meeting, 缓办 and waiting for a
    return visit; the oldest of each in days; overdue work the sweep would still move
    up; open escalated demands not with the office their tier hands them to; whether
    the events pile up on the moment of generation."""
    from django.db.models import Count, Min, Q

    from tongxin.demands.models import OPEN_STATES, Demand, DemandEvent

    now = now or dt.datetime.now(dt.UTC)
    open_ = Demand.objects.filter(state__in=OPEN_STATES)
    working = open_.filter(postponed=False)
    escalated = working.exclude(state="returned")
    secretaries = [c.workers[0][0] for c in district.communities]

    def days(t: dt.datetime | None) -> float | None:
        return None if t is None else round((now - t).total_seconds() / DAY, 1)

    tiers = dict(working.values_list("tier").annotate(n=Count("pk")).order_by("tier"))
    events = DemandEvent.objects.all()
    last_day = events.filter(at__gt=now - dt.timedelta(days=1), at__lte=now).count()
    week_before = events.filter(
        at__gt=now - dt.timedelta(days=8), at__lte=now - dt.timedelta(days=1)
    ).count()
    return {
        "open": open_.count(),
        "by_tier": {t: tiers.get(t, 0) for t in (1, 2, 3, 4)},
        "postponed": open_.filter(postponed=True).count(),
        "waiting_visit": Demand.objects.filter(state="resolved").count(),
        "oldest_open_days": days(working.aggregate(t=Min("created_at"))["t"]),
        "oldest_postponed_days": days(
            open_.filter(postponed=True).aggregate(t=Min("created_at"))["t"]
        ),
        "longest_wait_for_a_visit_days": days(
            Demand.objects.filter(state="resolved").aggregate(t=Min("resolved_at"))["t"]
        ),
        "due_for_the_sweep": working.filter(tier__lt=4, deadline__lte=now).count(),
        # The last day's events beside the daily average of the week before it (about
        # 1 where nothing piles up on the moment of generation), and those after it.
        "last_day_events_ratio": round(last_day / (week_before / 7), 2) if week_before else None,
        "events_ahead": events.filter(at__gt=now).count(),
        "with_the_wrong_office": escalated.filter(
            Q(tier=2) & ~Q(handler__in=secretaries)
            | Q(tier=3) & ~Q(handler__in=list(district.street_users.values()))
            | Q(tier=4) & ~Q(handler=district.district_user)
        ).count(),
    }


def describe_open_work(w: dict) -> str:
    """:func:`open_work` in a line."""
    t = {int(k): n for k, n in w["by_tier"].items()}  # str keys after a JSON round trip
    return (
        f"{w['open']:,} open (T1 {t[1]:,}, T2 {t[2]:,}, T3 {t[3]:,}, at the dispatch "
        f"meeting {t[4]:,}, 缓办 {w['postponed']:,}; the oldest not deferred "
        f"{w['oldest_open_days'] or 0:.0f} days), {w['waiting_visit']:,} waiting for a "
        "return visit"
    )


def analyze() -> float:
    """Fresh planner statistics after the bulk load (what a DBA would do after an import)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def vacuum() -> float:
    """PostgreSQL: ``VACUUM (ANALYZE)`` of the whole database once the load and the
    derived tables are written — what autovacuum would otherwise start on its own in the
    next minutes (millions of rows just inserted), sharing the two cores with the
    measurements. A bulk import at a real site is followed by the same. Then a
    ``CHECKPOINT``: the load and the vacuum leave gigabytes of WAL and dirty pages, and
    the checkpoint they call for otherwise starts (on ``max_wal_size``) during the
    measurements that follow — it did in a run on 2026-11-25, writing through all the
    read measurements. SQLite: nothing (its statistics are made by :func:`analyze`)."""
    from django.db import connection

    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
            cursor.execute("CHECKPOINT")
    return time.perf_counter() - started


def after_generation(log: Callable[[str], None] = print) -> dict[str, float]:
    """The derived tables the lead's code keeps, when it has them: the metrics rollup
    (``tongxin.demands.rollup.rebuild``) and the hot-topic links
    (``tongxin.board.hot.link_pending``). Each is timed; missing ones are skipped."""
    import importlib

    out: dict[str, float] = {}
    for module, name in (
        ("tongxin.demands.rollup", "rebuild"),
        ("tongxin.board.hot", "link_pending"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        fn = getattr(mod, name, None)
        if fn is None:
            continue
        started = time.perf_counter()
        try:
            fn()
        except Exception as e:  # the lead's code is being written: report, go on
            out[f"{module}.{name}"] = float("nan")
            log(f"  {module}.{name}() FAILED: {e.__class__.__name__}: {e}")
            continue
        out[f"{module}.{name}"] = time.perf_counter() - started
        log(f"  {module}.{name}(): {out[f'{module}.{name}']:.1f} s")
    return out


def main() -> int:
    import argparse

    from common import setup_django

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demands", type=int, default=1_000_000)
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database")
    parser.add_argument(
        "--json",
        action="store_true",
        help="end with the rate and open_work() as one line of JSON (the derived tables"
        " are not built)",
    )
    args = parser.parse_args()
    setup_django(args.database_url)
    district = build_district(args.residents)
    now = dt.datetime.now(dt.UTC)
    stats = add_demands(district, args.demands, now=now)
    print(
        f"{stats.demands:,} demands and {stats.events:,} events in {stats.seconds:.1f} s: "
        f"{stats.rate:,.0f} demands/s (goal 20,000/s: {'met' if stats.rate >= 20000 else 'NOT MET'})"
    )
    print("states:", ", ".join(f"{k} {v}" for k, v in sorted(stats.by_state.items())))
    print(f"analyze: {analyze():.1f} s")
    work = open_work(district, now)  # as generated (the sweep comes every minute)
    print("open work:", describe_open_work(work))
    if args.json:
        from django.db import connection

        out = {"rate": stats.rate, "open_work": work}
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                out["journal_mode"] = cursor.fetchone()[0]
        print(json.dumps(out))
    else:
        after_generation()
    return 0


if __name__ == "__main__":
    sys.exit(main())
