"""What keeps the read pages cheap at a million demands (issue 6): the area tree read by
its index, the ledger's filter form drawn once, counts that each walk one index range,
one query for a demand's photos — each with what it must not change."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.accounts.scope import scope_for, subtree
from tongxin.areas.models import Area, Level
from tongxin.core.treepaths import bulk_add_children
from tongxin.demands import actions
from tongxin.demands.models import (
    OPEN_STATES,
    Attachment,
    Channel,
    Demand,
    DemandEvent,
    Department,
    EventKind,
)
from tongxin.demands.testing import submit
from tongxin.demands.views_staff import section_counts, work_sections
from tongxin.people.models import CoBuildingUnit
from tongxin.testing import clear_caches

SH = ZoneInfo("Asia/Shanghai")
LEDGER = reverse("demands:ledger")


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    return re.findall(r"<option[^>]*>([^<]*)</option>", select[0])


def selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    return re.search(r'<option value="([^"]*)"[^>]*selected', select[0])[1]


# --- the area tree -------------------------------------------------------------------------
def test_a_subtree_is_every_path_below_and_nothing_beside(db):
    def node(path: str) -> Area:
        return Area.objects.create(path=path, depth=len(path) // 4, name=path, level=Level.ESTATE)

    inside = [node("0001"), node("00010000"), node("0001ZZZZ"), node("0001ZZZZZZZZ")]
    node("0000ZZZZ"), node("0002"), node("00020001")
    assert set(Area.objects.filter(subtree("0001"))) == set(inside)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_reads_a_scopes_areas_through_an_index(world):
    # SQLite's LIKE ignores case and so cannot use the path index: a prefix test alone
    # reads every area of the city (118,000 at a million demands) for the ledger's list.
    sql, params = scope_for(world.street_office).areas().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(row[-1] for row in cursor.fetchall())
    assert "SEARCH areas_area USING" in plan and "path>? AND path<?" in plan, plan


def test_a_scope_writes_the_community_level_into_its_sql(world):
    """The level is part of what the query is: written into the SQL, PostgreSQL keeps
    one plan for the statement (test below) instead of planning it on every run."""
    office = world.street_office
    sql, params = scope_for(office).demands(office).query.sql_with_params()
    assert f'"level" = {int(Level.COMMUNITY)} AND' in sql, sql
    assert len(params) == sql.count("%s")


def test_constant_matches_what_equality_matches_and_takes_only_an_int(world):
    communities = Area.objects.filter(level=Level.COMMUNITY).order_by("pk")
    constant = Area.objects.filter(level__constant=Level.COMMUNITY).order_by("pk")
    assert list(constant) == list(communities) and communities.exists()
    for bad in ("30 OR 1=1", 30.0, True):
        with pytest.raises(TypeError):
            list(Area.objects.filter(level__constant=bad))


def test_constant_in_matches_what_in_matches_and_takes_only_choice_values(world):
    submit(world.household_a1, title="楼道灯坏了")
    kinds = (EventKind.SUBMITTED, EventKind.DISPATCHED)
    plain = DemandEvent.objects.filter(kind__in=kinds).order_by("pk")
    constant = DemandEvent.objects.filter(kind__constant_in=kinds).order_by("pk")
    assert list(constant) == list(plain) and plain.exists()
    assert "IN ('submitted', 'dispatched')" in str(constant.query)
    for bad in ("submitted", [], ["submitted' OR '1'='1"], ["Submitted"], [1]):
        with pytest.raises(TypeError):
            list(DemandEvent.objects.filter(kind__constant_in=bad))


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgres_keeps_one_plan_for_the_ledgers_page_query(client, world):
    """psycopg prepares a statement after five runs; PostgreSQL then plans it afresh
    five times more and keeps a generic plan when it costs no more. With the level as a
    parameter it never did (the ledger's query was planned on every request)."""
    submit(world.household_a1, title="楼道灯坏了")
    # A city's tree is mostly households: 20,000 of them, and the statistics to show it.
    building = Area.objects.get_parent(world.household_a1)
    bulk_add_children(building, [Area(name=f"{n}室", level=Level.HOUSEHOLD) for n in range(20_000)])
    client.force_login(world.street_office)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE areas_area")
        cursor.execute("DEALLOCATE ALL")
    for _ in range(14):
        assert client.get(LEDGER).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ['%FROM "demands_demand"%"areas_area" U0%ORDER BY%'],
        )
        plans = cursor.fetchall()
    assert plans, "the ledger's query was not prepared"
    assert all(generic > 0 for _, generic, _ in plans), plans


def test_the_ledger_offers_the_scopes_areas_in_tree_order(client, world):
    client.force_login(world.street_office)
    html = client.get(LEDGER).content.decode()
    assert options(html, "area") == [
        "全部区域",
        "仁和社区",
        "\u3000仁和家园",
        "\u3000\u3000第一网格",
        "宏丰社区",
        "\u3000万佳庭苑",
    ]


# --- the ledger's filter form, drawn once --------------------------------------------------
def test_the_drawn_filter_form_is_kept_per_scope_and_filter(client, world):
    client.force_login(world.street_office)
    assert "宏丰社区" in options(client.get(LEDGER).content.decode(), "area")
    # Another scope never gets the street's form, nor a filter another one's.
    client.force_login(world.worker_a)
    html = client.get(LEDGER).content.decode()
    assert "宏丰社区" not in options(html, "area") and "仁和社区" in options(html, "area")
    assert selected(client.get(LEDGER, {"state": "closed"}).content.decode(), "state") == "closed"
    assert selected(client.get(LEDGER, {"state": "resolved"}).content.decode(), "state") == (
        "resolved"
    )
    assert selected(client.get(LEDGER).content.decode(), "state") == ""


def test_a_second_view_reads_no_lists_for_the_form(client, world):
    client.force_login(world.street_office)
    clear_caches()
    client.get(LEDGER)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LEDGER, {"cursor": ""}).status_code == 200
    read = " ".join(q["sql"] for q in ctx.captured_queries)
    assert 'FROM "demands_category"' not in read
    assert '"areas_area"."level" IN' not in read
    # The drawn form is kept in the server process, so even finding it costs no query.
    assert "tongxin_cache" not in read, read


# --- the rows -------------------------------------------------------------------------------
def test_a_row_shows_local_dates_labels_and_its_link(client, world):
    with time_machine.travel(dt.datetime(2025, 12, 31, 23, 30, tzinfo=SH), tick=False):
        d = submit(world.household_a1, title="跨年的诉求", channel=Channel.HOTLINE)
    client.force_login(world.worker_a)
    html = client.get(LEDGER).content.decode()
    row = re.search(r"<tr class=\"[^\"]*\">\s*<td data-label=\"编号\".*?</tr>", html, re.S)[0]
    assert f'<a href="{reverse("demands:detail", args=[d.pk])}">2025-{d.pk:06d}</a>' in row
    assert '2025-12-31 <span class="text-secondary d-sm-block">23:30</span>' in row
    assert f">{Channel.HOTLINE.label}</td>" in row
    assert f">{d.get_state_display()}</span>" in row
    assert f'title="{d.get_tier_display()}">T1</span>' in row


def ledger_queries(client) -> tuple[int, str]:
    clear_caches()
    client.get(LEDGER)  # the filter form drawn and kept
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(LEDGER).content.decode()
    return len(ctx.captured_queries), html


def test_units_and_departments_cost_a_query_each_whatever_the_rows(client, world):
    unit = CoBuildingUnit.objects.create(name="区供电局")
    department = Department.objects.create(name="区住建局")
    client.force_login(world.worker_a)
    submit(world.household_a1, title="没有派单的")
    plain, _html = ledger_queries(client)

    def some(n: int) -> None:
        for i in range(n):
            d = submit(world.household_a1, title=f"派出的{i}")
            to = {"to_unit": unit} if i % 2 else {"to_department": department}
            actions.dispatch_demand(d, by=world.worker_a, **to)

    some(2)
    few, html = ledger_queries(client)
    assert "区供电局" in html and "区住建局" in html
    some(20)
    many, _html = ledger_queries(client)
    assert few == many == plain + 2


# --- open work: the states in the SQL ----------------------------------------------------------
def test_open_work_names_its_states_in_the_sql(db):
    # So that PostgreSQL's generic plan of a prepared statement knows open work is a few
    # per cent of the rows: with the states as parameters it took a community's 17
    # overdue demands for 4,000 and walked the ledger's whole index for its 红灯 filter.
    now = dt.datetime.now(dt.UTC)
    for qs in (Demand.objects.open(), Demand.objects.overdue(now), Demand.objects.warning(now)):
        sql, params = qs.query.sql_with_params()
        assert all(f"'{state}'" in sql for state in OPEN_STATES)
        assert not set(map(str, params)) & set(OPEN_STATES)


# --- the work tabs' counts ---------------------------------------------------------------------
@pytest.fixture
def elsewhere(world):
    """A demand of community B handled by community A's worker, and two of A's own."""
    b1 = submit(world.household_b1, title="宏丰的诉求")
    actions.dispatch_demand(b1, by=world.worker_b, to_user=world.worker_a)
    submit(world.household_a1, title="仁和的诉求")
    submit(world.household_a2, title="仁和的另一件")
    return b1


def test_the_tabs_count_the_area_and_what_the_user_handles_elsewhere(world, elsewhere):
    user, scope = world.worker_a, scope_for(world.worker_a)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    with CaptureQueriesContext(connection) as ctx:
        counts = section_counts(user, scope, sections)
    assert counts == {s.key: s.demands.count() for s in sections}
    assert counts["mine"] == 1 and counts["dispatch"] == 2
    # No count over "the area OR handled by the user": PostgreSQL reads every open
    # demand of the city for that.
    assert not [q for q in ctx.captured_queries if " OR " in q["sql"]]


@pytest.mark.parametrize("who", ["grid_worker_a", "street_office", "admin"])
def test_every_scope_counts_the_same_as_its_lists(world, elsewhere, who):
    user = world.users()[who]
    actions.dispatch_demand(
        submit(world.household_b1, title="宏丰的第二件"), by=world.worker_b, to_user=user
    )
    scope = scope_for(user)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    assert section_counts(user, scope, sections) == {s.key: s.demands.count() for s in sections}
    assert section_counts(user, scope, sections)["mine"] == 1


def test_a_street_offices_tabs_are_counted_without_asking_for_the_area_again(world, elsewhere):
    # The area's part of a street office's demands is its communities as a list. A tab
    # of the area's alone (待派单, 待回访) asked for the area a second time, as a subquery
    # of the area table, whose row count PostgreSQL cannot tell: from the tenth count
    # on, its generic plan read a district's demands community by community (84–134 ms
    # a count instead of 1–2 ms, at a million demands).
    user = world.street_office
    actions.dispatch_demand(
        submit(world.household_b1, title="宏丰的第二件"), by=world.worker_b, to_user=user
    )
    scope = scope_for(user)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    with CaptureQueriesContext(connection) as ctx:
        counts = section_counts(user, scope, sections)
    counted = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    assert counted and not [sql for sql in counted if '"areas_area"' in sql]
    assert counts == {s.key: s.demands.count() for s in sections}
    assert counts["mine"] == 1 and counts["dispatch"] == 2


def test_outside_the_area_only_the_tabs_of_open_work_are_counted(world, elsewhere):
    # 待派单 and 待回访 hold the area's demands alone: what a worker handles elsewhere
    # is not asked for them.
    user, scope = world.worker_a, scope_for(world.worker_a)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    area_only = [s.key for s in sections if s.area_only]
    assert area_only == ["dispatch", "visit"]
    with CaptureQueriesContext(connection) as ctx:
        counts = section_counts(user, scope, sections)
    assert len(ctx.captured_queries) == len(sections) + 1 + len(sections) - len(area_only)
    assert counts == {s.key: s.demands.count() for s in sections}


def test_the_tabs_probe_once_when_nothing_is_handled_elsewhere(world):
    submit(world.household_a1, title="仁和的诉求")
    user, scope = world.worker_a, scope_for(world.worker_a)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    with CaptureQueriesContext(connection) as ctx:
        section_counts(user, scope, sections)
    assert len(ctx.captured_queries) == len(sections) + 1


def test_the_tabs_probe_once_when_only_closed_work_is_handled_elsewhere(world, elsewhere):
    # Outside the area every tab is of open demands: one resolved there is no reason
    # to count the tabs a second time.
    actions.resolve_demand(elsewhere, by=world.worker_a, answer="已处理。")
    user, scope = world.worker_a, scope_for(world.worker_a)
    sections = work_sections(user, scope, dt.datetime.now(dt.UTC))
    with CaptureQueriesContext(connection) as ctx:
        counts = section_counts(user, scope, sections)
    assert len(ctx.captured_queries) == len(sections) + 1
    assert counts == {s.key: s.demands.count() for s in sections}


def test_the_home_page_counts_the_work_as_the_work_page_does(client, world, elsewhere):
    client.force_login(world.worker_a)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(reverse("home"))
    shown = {key: n for key, _label, n in r.context["work"]}
    assert shown["mine"] == 1 and shown["dispatch"] == 2
    counts = [q["sql"] for q in ctx.captured_queries if '"demands_demand"' in q["sql"]]
    assert counts and not [sql for sql in counts if " OR " in sql]


def test_the_work_page_shows_the_same_counts(client, world, elsewhere):
    client.force_login(world.worker_a)
    r = client.get(reverse("demands:work"))
    shown = {section.key: n for section, n in r.context["sections"]}
    assert shown["mine"] == 1 and shown["dispatch"] == 2


# --- a demand's page ---------------------------------------------------------------------------
def count_page(client, demand) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(reverse("demands:detail", args=[demand.pk]))
    assert r.status_code == 200
    photos = [q for q in ctx.captured_queries if 'FROM "demands_attachment"' in q["sql"]]
    assert len(photos) == 1  # the reporter's and every step's at once
    return len(ctx.captured_queries), r.content.decode()


def test_a_demands_page_reads_its_photos_in_one_query(client, world):
    d = submit(world.household_a1, title="有照片的诉求")
    mine = Attachment.objects.create(demand=d, file="demands/reporter.jpg")
    client.force_login(world.worker_a)
    few, _html = count_page(client, d)
    photos = []
    for i in range(3):
        event = actions.add_note(d, by=world.worker_a, text=f"第{i}次记录", public=True)
        photos.append(Attachment.objects.create(demand=d, event=event, file=f"demands/{i}.jpg"))
    many, html = count_page(client, d)
    assert many == few
    # Each photo under its own step, the reporter's under theirs.
    history = html[html.index('id="history"') :]
    for i, photo in enumerate(photos):
        step = history[history.index(f"第{i}次记录") :]
        step = step[: step.index("</li>")]
        assert f'src="{reverse("demands:photo", args=[photo.pk])}"' in step
    top = html[: html.index('id="history"')]
    assert f'src="{reverse("demands:photo", args=[mine.pk])}"' in top
    assert f">{EventKind.ANSWER.label}<" in history  # public notes are answers


# --- the deadline ----------------------------------------------------------------------
def test_the_deadline_is_indexed_only_with_what_it_is_read_with(db):
    """No index of the deadline alone: for "open and overdue, oldest first" both planners
    walked it through every closed demand (migration 0012)."""
    from tongxin.demands.models import Demand

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Demand._meta.db_table)
    indexed = [
        c["columns"] for c in constraints.values() if c["index"] and "deadline" in c["columns"]
    ]
    assert ["deadline"] not in indexed
    assert ["state", "deadline"] in indexed
    assert ["community_id", "state", "deadline", "warn_at"] in indexed


# --- SQL built once ------------------------------------------------------------------------
def test_the_ledgers_pages_and_a_demands_page_build_their_sql_once(client, world, monkeypatch):
    """The ORM built a page's demand query on every request, which took longer than
    running it (core.prepared): the second time, a page only runs it — and still shows
    exactly the rows of its own scope and position."""
    from django.db.models.sql.compiler import SQLCompiler

    from tongxin.demands.ledger import PAGE_SIZE
    from tongxin.demands.models import Demand

    mine = [submit(world.household_a1, title=f"仁和第{n}号") for n in range(PAGE_SIZE + 3)]
    submit(world.household_b1, title="宏丰的诉求")
    built = []
    real = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        if self.query.select_related:  # the pages' demands with their relations
            built.append(self.query.model)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    client.force_login(world.worker_a)
    first = client.get(LEDGER).content.decode()
    older = LEDGER + re.search(r'href="(\?cursor=[^"]+)" rel="next"', first)[1]
    second = client.get(older).content.decode()
    newer = LEDGER + re.search(r'href="(\?cursor=[^"]+)" rel="prev"', second)[1]
    assert "翻页链接无效" not in second
    pages = [LEDGER, older, newer]
    detail = reverse("demands:detail", args=[mine[0].pk])
    for url in [*pages, detail]:
        client.get(url)
        built.clear()
        page = client.get(url).content.decode()
        assert Demand not in built, url
        assert "宏丰的诉求" not in page
    assert [f"仁和第{n}号" in first for n in (PAGE_SIZE + 2, 3, 2)] == [True, True, False]
    assert [f"仁和第{n}号" in second for n in (2, 0)] == [True, True]
    back = client.get(newer).content.decode()
    assert [f"仁和第{n}号" in back for n in (PAGE_SIZE + 2, 3, 2)] == [True, True, False]
    assert client.get(reverse("demands:detail", args=[mine[-1].pk + 1])).status_code == 404


def test_the_places_of_a_page_are_read_in_written_out_queries(world, monkeypatch):
    """The names above each demand (社区, 小区/网格, 楼栋/房号): one query per 500 paths,
    not built by the ORM (its list of paths took longer to build than to run)."""
    from django.db.models.sql.compiler import SQLCompiler

    from tongxin.demands import ledger
    from tongxin.demands.models import Demand

    made = [
        submit(area)
        for area in (world.household_a1, world.household_b1, world.grid_a, world.community_b)
    ]
    demands = list(Demand.objects.select_related("area").filter(pk__in=[d.pk for d in made]))
    demands.sort(key=lambda d: d.pk)
    monkeypatch.setattr(ledger, "_PLACES_AT_ONCE", 2)
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda *a, **k: pytest.fail("built by the ORM"))
    with CaptureQueriesContext(connection) as queries:
        places = ledger.Places().of(demands)
    assert len(queries) >= 3  # the paths asked two at a time
    a1, b1, grid, community = (places[d.pk] for d in demands)
    assert (a1.community, a1.grid, a1.position) == (
        "仁和社区",
        ("仁和家园", "第一网格"),
        ("1栋", "1单元101室"),
    )
    assert (b1.community, b1.grid, b1.position) == (
        "宏丰社区",
        ("万佳庭苑",),
        ("5栋", "1单元301室"),
    )
    assert (grid.community, grid.grid, grid.position) == ("仁和社区", ("仁和家园", "第一网格"), ())
    assert (community.community, community.grid) == ("宏丰社区", ())
