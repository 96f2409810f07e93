"""The problem ledger (问题台账): scope from every side, filters, keyset pages, the
figures on top, and the Excel export with its masking and audit."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from tongxin.areas.models import Level
from tongxin.audit.models import AuditEntry
from tongxin.demands import actions, ledger, metrics
from tongxin.demands.ledger import Cursor
from tongxin.demands.models import Channel, Demand, Satisfaction, State, Tier
from tongxin.demands.testing import category, post_export, submit
from tongxin.people.models import Resident
from tongxin.testing import clear_caches

SH = ZoneInfo("Asia/Shanghai")
LEDGER = "demands:ledger"
FIGURES = "demands:ledger_figures"
EXPORT = "demands:ledger_export"
HEADERS = [
    "编号",
    "反映人",
    "联系电话",
    "反映时间",
    "渠道",
    "类别",
    "问题描述",
    "所属网格",
    "责任人",
    "办理时限",
    "办理情况",
    "办结时间",
    "反馈情况",
    "满意度",
]


@pytest.fixture
def three(world):
    """One demand in grid A (a household), one at community A's level, one in B."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=SH), tick=False):
        a1 = submit(
            world.household_a1,
            title="楼道堆放杂物",
            reporter=world.resident_a1,
            reporter_name="张三",
            reporter_phone="13800001234",
        )
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, tzinfo=SH), tick=False):
        a_comm = submit(
            world.community_a,
            title="社区广场路灯不亮",
            channel=Channel.HOTLINE,
            category=category("infrastructure"),
            reporter_name="李四",
            reporter_phone="13911112222",
        )
    with time_machine.travel(dt.datetime(2026, 3, 4, 9, tzinfo=SH), tick=False):
        b1 = submit(
            world.household_b1,
            title="宏丰噪音扰民",
            reporter=world.resident_b1,
            reporter_name="王五",
            reporter_phone="13700009999",
        )
    return {"a1": a1, "a_comm": a_comm, "b1": b1}


def listed(client, **params) -> list[str]:
    r = client.get(reverse(LEDGER), params)
    assert r.status_code == 200
    return [row.demand.title for row in r.context["rows"]]


# --- who sees what ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin", {"a1", "a_comm", "b1"}),
        ("district_office", {"a1", "a_comm", "b1"}),
        ("street_office", {"a1", "a_comm", "b1"}),
        ("worker_a", {"a1", "a_comm"}),
        ("cadre_a", {"a1", "a_comm"}),
        ("grid_worker_a", {"a1"}),
        ("worker_b", {"b1"}),
    ],
)
def test_it_shows_each_staff_role_exactly_its_scope(client, world, three, who, expected):
    client.force_login(world.users()[who])
    titles = {three[k].title for k in expected}
    assert set(listed(client)) == titles
    r = client.get(reverse(FIGURES))
    assert r.context["figures"].collected == len(expected)


@pytest.mark.parametrize("who", ["party_member_a", "resident_user_a"])
def test_it_is_not_for_party_members_or_residents(client, world, three, who):
    # A party member handling a demand still does not get the ledger: their own orders
    # are on their work page.
    actions.dispatch_demand(three["a1"], by=world.worker_a, to_user=world.party_member_a)
    client.force_login(world.users()[who])
    assert client.get(reverse(LEDGER)).status_code == 403
    assert client.get(reverse(FIGURES)).status_code == 403
    assert client.get(reverse(EXPORT)).status_code == 403
    assert post_export(client).status_code == 403


def test_it_sends_strangers_to_sign_in(client, world):
    for name in (LEDGER, FIGURES, EXPORT):
        r = client.get(reverse(name))
        assert r.status_code == 302 and "/login" in r["Location"]


def test_it_never_shows_another_community_through_filters_or_cursors(client, world, three):
    b1 = three["b1"]
    actions.dispatch_demand(b1, by=world.worker_b, to_user=world.worker_b)
    client.force_login(world.worker_a)
    a_titles = {three["a1"].title, three["a_comm"].title}
    # An area outside the scope is a form error: the list stays within the scope.
    r = client.get(reverse(LEDGER), {"area": world.community_b.pk})
    assert "area" in r.context["form"].errors
    assert {row.demand.title for row in r.context["rows"]} == a_titles
    # So is a handler who only handles demands elsewhere.
    r = client.get(reverse(LEDGER), {"handler": world.worker_b.pk})
    assert "handler" in r.context["form"].errors
    assert b1.title not in {row.demand.title for row in r.context["rows"]}
    # Searching for B's number, title or tracking code finds nothing.
    for q in (b1.number, str(b1.pk), b1.title, b1.tracking_code):
        assert listed(client, q=q) == [], q
    # A genuine cursor made from B's row only positions the page within A's rows.
    for backwards in (False, True):
        token = Cursor(b1.created_at + dt.timedelta(days=1), b1.pk + 1, backwards).encode()
        assert b1.title not in listed(client, cursor=token)
    # And B's demand stays out of the export.
    book = export(client)
    assert b1.number not in {row[0] for row in book}


# --- filters ----------------------------------------------------------------------------
def test_it_filters_by_every_field(client, world, three):
    a1, a_comm = three["a1"], three["a_comm"]
    actions.dispatch_demand(a1, by=world.worker_a, to_user=world.grid_worker_a)
    Demand.objects.filter(pk=a_comm.pk).update(tier=Tier.TIME_LIMITED)
    client.force_login(world.street_office)
    assert listed(client, area=world.community_a.pk) == [a_comm.title, a1.title]
    estate = world.grid_a.ancestor_at(Level.ESTATE)
    assert listed(client, area=estate.pk) == [a1.title]
    assert listed(client, category=category("infrastructure").pk) == [a_comm.title]
    assert listed(client, state=State.DISPATCHED) == [a1.title]
    assert listed(client, tier=2) == [a_comm.title]
    assert listed(client, channel=Channel.HOTLINE) == [a_comm.title]
    assert listed(client, handler=world.grid_worker_a.pk) == [a1.title]
    assert listed(client, date_from="2026-03-03", date_to="2026-03-03") == [a_comm.title]
    assert listed(client, date_to="2026-03-02") == [a1.title]
    assert listed(client, q="路灯") == [a_comm.title]
    assert listed(client, q=a1.number) == [a1.title]
    assert listed(client, q=a1.tracking_code.lower()) == [a1.title]
    assert listed(client, q=f"2025-{a1.pk:06d}") == []  # the number's year must match


def test_it_filters_by_the_traffic_light(client, world, three):
    a1, a_comm, b1 = three["a1"], three["a_comm"], three["b1"]
    now = dt.datetime(2026, 3, 20, 9, tzinfo=SH)
    Demand.objects.filter(pk=a1.pk).update(deadline=now - dt.timedelta(hours=1))
    Demand.objects.filter(pk=a_comm.pk).update(
        warn_at=now - dt.timedelta(hours=1), deadline=now + dt.timedelta(hours=5)
    )
    Demand.objects.filter(pk=b1.pk).update(
        warn_at=now + dt.timedelta(days=1), deadline=now + dt.timedelta(days=2)
    )
    with time_machine.travel(now, tick=False):
        client.force_login(world.admin)
        assert listed(client, light="red") == [a1.title]
        assert listed(client, light="yellow") == [a_comm.title]
        body = client.get(reverse(LEDGER)).content.decode()
    assert "table-danger" in body and "table-warning" in body


def test_it_says_when_the_dates_are_the_wrong_way_round(client, world, three):
    client.force_login(world.worker_a)
    r = client.get(reverse(LEDGER), {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert "date_to" in r.context["form"].errors
    assert "截止日期不能早于起始日期" in r.content.decode()
    assert len(r.context["rows"]) == 0  # date_from alone still applies: nothing after 5 March


def test_it_shows_the_figures_of_the_current_filter(client, world, three):
    a1 = three["a1"]
    actions.dispatch_demand(a1, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(
        a1, by=world.grid_worker_a, answer="已清理。", now=a1.created_at + dt.timedelta(hours=3)
    )
    actions.record_return_visit(a1, by=world.worker_a, satisfaction=Satisfaction.BASICALLY)
    client.force_login(world.worker_a)
    r = client.get(reverse(FIGURES), {"category": category("environment").pk})
    f = r.context["figures"]
    # One environment demand in A, resolved on time and visited: 1/1 everywhere.
    assert (f.collected, f.due, f.resolved, f.resolved_on_time, f.visits) == (1, 1, 1, 1, 1)
    body = r.content.decode()
    assert "100.00%" in body
    assert f == metrics.figures(Demand.objects.filter(pk=a1.pk))


def test_it_answers_htmx_with_the_results_only(client, world, three):
    client.force_login(world.worker_a)
    r = client.get(
        reverse(LEDGER), {"q": "路灯"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ledger-results"
    )
    body = r.content.decode()
    assert "<html" not in body and "社区广场路灯不亮" in body and "楼道堆放杂物" not in body


# --- the page -----------------------------------------------------------------------------
def test_it_masks_personal_data_and_links_to_the_detail(client, world, three):
    a1 = three["a1"]
    Demand.objects.filter(pk=a1.pk).update(
        title="请回电13800001234",
        description="我是张三，电话13800001234，身份证510321198001011233，请尽快处理。",
    )
    client.force_login(world.worker_a)
    body = client.get(reverse(LEDGER)).content.decode()
    assert "13800001234" not in body and "13911112222" not in body
    assert "510321198001011233" not in body
    assert "138****1234" in body and "张*" in body and "李*" in body
    assert reverse("demands:detail", args=[a1.pk]) in body


def test_it_draws_each_row_with_every_cell_escaped(client, world, three):
    """The rows are drawn in Python (html.ledger_row): whatever a resident typed is
    escaped, every cell carries its column's label for phones, and the badges show."""
    a1 = three["a1"]
    Demand.objects.filter(pk=a1.pk).update(
        title='<script>alert("x")</script>',
        description="<b>楼道</b> & {花括号} 堆放杂物",
        deadline=dt.datetime(2026, 3, 1, tzinfo=SH),
        tier=Tier.COORDINATED,
        rework_count=2,
    )
    client.force_login(world.worker_a)
    body = client.get(reverse(LEDGER)).content.decode()
    assert "<script>alert" not in body and "<b>楼道</b>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;b&gt;楼道&lt;/b&gt; &amp; {花括号} 堆放杂物" in body
    table = body[body.index('id="ledger-table"') :]
    rows = table[table.index("<tbody>") : table.index("</tbody>")].split("<tr ")[1:]
    assert len(rows) == 2
    for label in [*HEADERS[:3], "时间", "渠道", "类别", "描述", "网格/位置", "责任人"]:
        assert all(f'data-label="{label}"' in row for row in rows), label
    late = next(row for row in rows if "alert" in row)
    assert late.startswith('class="table-danger"')
    assert "已超期" in late and "返工 2 次" in late
    assert 'class="badge text-bg-warning" title="' in late  # T3's colour
    assert "2026-03-01" in late  # the deadline cell


def make_many(world, n: int) -> list[Demand]:
    """``n`` demands in community A, some sharing a second, so ties need the id."""
    start = dt.datetime(2026, 4, 1, 9, tzinfo=SH)
    made = []
    for i in range(n):
        when = start + dt.timedelta(minutes=(i // 3) * 7)
        made.append(
            submit(
                world.household_a1,
                title=f"诉求{i:03d}",
                now=when,
                reporter_name="赵六",
                reporter_phone="13500000000",
            )
        )
    for d in made[::4]:
        actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)
    return made


def ledger_order(demands: list[Demand]) -> list[str]:
    return [d.title for d in sorted(demands, key=lambda d: (d.created_at, d.pk), reverse=True)]


def test_it_pages_by_keyset_forward_and_back(client, world):
    made = make_many(world, 65)
    expected = ledger_order(made)
    client.force_login(world.worker_a)
    p1 = client.get(reverse(LEDGER)).context["page"]
    assert [d.title for d in p1.rows] == expected[:30] and p1.is_first and not p1.previous
    with CaptureQueriesContext(connection) as ctx:
        r2 = client.get(reverse(LEDGER), {"cursor": p1.next})
    sql = [q["sql"].upper() for q in ctx.captured_queries]
    assert any("LIMIT 31" in q for q in sql) and not any("OFFSET" in q for q in sql)
    p2 = r2.context["page"]
    assert [d.title for d in p2.rows] == expected[30:60]
    p3 = client.get(reverse(LEDGER), {"cursor": p2.next}).context["page"]
    assert [d.title for d in p3.rows] == expected[60:] and not p3.next
    back = client.get(reverse(LEDGER), {"cursor": p3.previous}).context["page"]
    assert [d.title for d in back.rows] == expected[30:60] and not back.is_first
    first = client.get(reverse(LEDGER), {"cursor": back.previous}).context["page"]
    assert [d.title for d in first.rows] == expected[:30] and first.is_first and first.next
    body = r2.content.decode()
    assert "下一页" in body and "上一页" in body and "第一页" in body


def test_it_keeps_the_filters_when_paging(client, world):
    made = make_many(world, 48)  # 12 dispatched, 36 still submitted
    client.force_login(world.worker_a)
    p1 = client.get(reverse(LEDGER), {"state": State.SUBMITTED}).context["page"]
    p2 = client.get(reverse(LEDGER), {"state": State.SUBMITTED, "cursor": p1.next})
    submitted = [d for d in made if d not in made[::4]]
    assert [d.title for d in p2.context["page"].rows] == ledger_order(submitted)[30:]
    assert "state=submitted" in p2.content.decode()


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "W10:1vQ:abc",
        signing.dumps([0, 1, 1], salt="another.salt"),
        signing.dumps(["x", "y", "z"], salt="tongxin.demands.ledger.cursor"),
        signing.dumps([0, 10**30, 1], salt="tongxin.demands.ledger.cursor"),
        signing.dumps([0, 0, 10**30], salt="tongxin.demands.ledger.cursor"),
        signing.dumps({"a": 1}, salt="tongxin.demands.ledger.cursor"),
        "x" * 5000,
    ],
    ids=[
        "garbage",
        "bad-signature",
        "other-salt",
        "not-numbers",
        "time-overflow",
        "id-overflow",
        "not-a-list",
        "too-long",
    ],
)
def test_it_answers_a_tampered_cursor_with_the_first_page(client, world, token):
    made = make_many(world, 35)
    client.force_login(world.worker_a)
    r = client.get(reverse(LEDGER), {"cursor": token})
    assert r.status_code == 200
    page = r.context["page"]
    assert page.is_first and [d.title for d in page.rows] == ledger_order(made)[:30]
    assert r.context["cursor_refused"]


def test_it_notices_a_changed_character_in_a_good_cursor(client, world):
    make_many(world, 35)
    client.force_login(world.worker_a)
    good = client.get(reverse(LEDGER)).context["page"].next
    bad = ("A" if good[0] != "A" else "B") + good[1:]
    assert Cursor.decode(good) is not None and Cursor.decode(bad) is None


def count_queries(client, url) -> int:
    clear_caches()  # the uncached page: the handler list read afresh
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_it_needs_the_same_queries_for_5_or_60_rows(client, world, django_assert_max_num_queries):
    client.force_login(world.worker_a)
    make_many(world, 5)
    url = reverse(LEDGER)
    few = count_queries(client, url)
    made = make_many(world, 55)
    for d in made[:10]:
        actions.add_note(d, by=world.worker_a, text="已联系", public=True)
    many = count_queries(client, url)
    assert many == few
    with django_assert_max_num_queries(few):
        client.get(url)


def test_it_builds_the_filter_form_only_to_draw_it(client, world, three, monkeypatch):
    """Unfiltered, the page takes its drawn form from the cache and builds none; asked
    with a filter, or once the drawn form has left the cache, it builds one."""
    from tongxin.demands import views_ledger

    built = []
    real_init = views_ledger.LedgerFilterForm.__init__

    def counting_init(self, *args, **kwargs):
        built.append(args[0] if args else None)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(views_ledger.LedgerFilterForm, "__init__", counting_init)
    client.force_login(world.worker_a)
    first = client.get(reverse(LEDGER))
    assert len(built) == 1 and 'id="ledger-filter"' in first.content.decode()
    again = client.get(reverse(LEDGER))
    assert len(built) == 1  # drawn from the cache
    assert again.content.decode().count('id="ledger-filter"') == 1
    assert set(listed(client, state=State.SUBMITTED)) == {"楼道堆放杂物", "社区广场路灯不亮"}
    assert len(built) == 2
    clear_caches()
    client.get(reverse(LEDGER))
    assert len(built) == 3


# --- the export --------------------------------------------------------------------------------
def export(client, **params) -> list[tuple]:
    r = post_export(client, params)
    assert r.status_code == 200
    assert r["Content-Type"] == ledger.XLSX
    assert "attachment" in r["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    return list(sheet.iter_rows(values_only=True))


def test_it_exports_the_ledger_columns(client, world, three):
    a1 = three["a1"]
    actions.dispatch_demand(a1, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(
        a1,
        by=world.grid_worker_a,
        answer="已清理。",
        now=dt.datetime(2026, 3, 2, 15, 30, tzinfo=SH),
    )
    actions.rate_by_resident(a1, satisfaction=Satisfaction.SATISFIED)
    client.force_login(world.worker_a)
    r = post_export(client)
    book = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    sheet = book.active
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet.freeze_panes == "A2"
    assert all(sheet.column_dimensions[c].width >= 10 for c in "ABCDEFGHIJKLMN")
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {a1.number, three["a_comm"].number}
    row = rows[a1.number]
    values = [c.value for c in row]
    # Times are real Excel dates, in Asia/Shanghai wall-clock time.
    assert row[3].is_date and values[3] == dt.datetime(2026, 3, 2, 9, 0)
    assert row[11].is_date and values[11] == dt.datetime(2026, 3, 2, 15, 30)
    assert row[9].is_date and values[9] == a1.deadline.astimezone(SH).replace(tzinfo=None)
    assert values[1:3] == ["张*", "138****1234"]
    assert values[4:6] == ["网页/扫码", "环境卫生"]
    assert values[6].startswith("楼道堆放杂物：")
    assert values[7] == "仁和社区 仁和家园 第一网格"
    assert values[8] == "网格员甲"
    assert values[10].startswith("已办结 · T1")
    assert values[12] == "已清理。"
    assert values[13] == "居民评价：满意"


def test_it_never_exports_a_whole_phone_or_id_number(client, world, three):
    # A resident typed their own numbers into the text, and a handler repeated them.
    a1 = three["a1"]
    Demand.objects.filter(pk=a1.pk).update(
        description=f"联系{world.resident_a1.phone}，身份证{world.resident_a1.id_number}。",
        public_answer=f"已电话联系 {world.resident_a2.phone}（座机 0813-5201234）。",
    )
    submit(world.household_a2, reporter=world.resident_a2, title="无电话的登记居民")
    client.force_login(world.admin)
    cells = [str(v) for row in export(client) for v in row if v is not None]
    phones = {p for p in Demand.objects.values_list("reporter_phone", flat=True) if p}
    phones |= set(Resident.objects.values_list("phone", flat=True)) | {"0813-5201234"}
    ids = set(Resident.objects.values_list("id_number", flat=True))
    assert phones and ids
    for secret in phones | ids:
        assert not any(secret in c for c in cells), secret
    assert any("139****5678" in c for c in cells)  # the register's phone, masked


def test_it_exports_only_the_scope_and_the_filter(client, world, three):
    client.force_login(world.worker_a)
    numbers = [row[0] for row in export(client)[1:]]
    assert numbers == [three["a_comm"].number, three["a1"].number]
    numbers = [row[0] for row in export(client, channel=Channel.HOTLINE)[1:]]
    assert numbers == [three["a_comm"].number]
    client.force_login(world.worker_b)
    assert [row[0] for row in export(client)[1:]] == [three["b1"].number]


def test_it_audits_every_export(client, world, three):
    client.force_login(world.worker_a)
    export(client, channel=Channel.HOTLINE)
    entry = AuditEntry.objects.get()
    assert entry.user == world.worker_a and entry.action == AuditEntry.Action.EXPORT
    assert "渠道=热线电话" in entry.detail and "共 1 行" in entry.detail


def test_it_refuses_to_export_with_a_filter_in_error(client, world, three):
    client.force_login(world.worker_a)
    r = post_export(client, {"area": world.community_b.pk})
    assert r.status_code == 302 and r["Location"].startswith(reverse(LEDGER))
    assert not AuditEntry.objects.exists()


def test_a_link_to_the_export_starts_nothing(client, world, three):
    """Exporting may start a background job: it is the ledger's button (a POST). A link
    followed or prefetched (a GET) goes back to the ledger with the same filter."""
    from tongxin.demands.models import ExportJob

    client.force_login(world.worker_a)
    r = client.get(reverse(EXPORT), {"channel": "web", "q": ""})
    assert r.status_code == 302 and r["Location"] == f"{reverse(LEDGER)}?channel=web"
    assert not AuditEntry.objects.exists() and not ExportJob.objects.exists()
    page = client.get(r["Location"]).content.decode()
    assert "请点击“导出 Excel”" in page
    button = re.search(
        r'<form method="post"[^>]*action="([^"]*)">[^<]*<input[^>]*csrfmiddlewaretoken', page
    )
    assert button and button[1] == f"{reverse(EXPORT)}?channel=web"


def test_it_keeps_a_residents_formula_as_text(client, world):
    submit(
        world.household_a1, title='=HYPERLINK("http://evil.example","点我")', description="+1\x0b-2"
    )
    client.force_login(world.worker_a)
    r = post_export(client)
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    cell = sheet.cell(row=2, column=7)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert "\x0b" not in cell.value


def test_it_exports_with_a_fixed_number_of_queries_per_chunk(world, monkeypatch):
    monkeypatch.setattr(ledger, "EXPORT_CHUNK", 10)
    make_many(world, 5)
    with CaptureQueriesContext(connection) as few:
        assert ledger.write_xlsx(Demand.objects.all(), io.BytesIO()) == 5
    make_many(world, 20)
    with CaptureQueriesContext(connection) as many:
        assert ledger.write_xlsx(Demand.objects.all(), io.BytesIO()) == 25
    # The rows are read in chunks; the area names once (all 25 share one household).
    assert len(many.captured_queries) <= len(few.captured_queries) + 2


def test_it_reports_its_progress_every_so_many_rows(world, monkeypatch):
    monkeypatch.setattr(ledger, "PROGRESS_EVERY", 2)
    make_many(world, 5)
    seen = []
    assert ledger.write_xlsx(Demand.objects.all(), io.BytesIO(), progress=seen.append) == 5
    assert seen == [2, 4]


# --- pure helpers -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13800001234", "电话138****1234"),
        ("身份证51032119800101123X号", "身份证510***********123X号"),
        ("座机0813-5201234", "座机081*****1234"),
        ("订单号 123456789012345678901", "订单号 123456789012345678901"),  # too long for either
        ("2026-000123", "2026-000123"),
    ],
)
def test_it_masks_numbers_in_free_text(text, masked):
    assert ledger.mask_text(text) == masked


def test_it_round_trips_a_cursor():
    moment = dt.datetime(2026, 1, 5, 9, 0, 0, 123457, tzinfo=SH)
    for backwards in (False, True):
        c = Cursor(moment, 42, backwards)
        assert Cursor.decode(c.encode()) == c
