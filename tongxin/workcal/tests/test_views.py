import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tongxin.audit.models import AuditEntry
from tongxin.workcal.models import CalendarDay

INDEX = reverse("workcal:index")
IMPORT = reverse("workcal:import")
HOLIDAY, WORKDAY = CalendarDay.Kind.HOLIDAY, CalendarDay.Kind.WORKDAY
LATE_2026 = dt.datetime(2026, 11, 25, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.admin)
    return client


def upload(text: str, name: str = "2027.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


@time_machine.travel(LATE_2026, tick=False)
def test_it_shows_administrators_which_years_have_data(admin_client):
    body = admin_client.get(INDEX).content.decode()
    assert "工作日历" in body
    assert 'id="missing-years"' in body and "2027年的节假日安排尚未录入" in body
    assert "无数据" in body and "chinese-calendar" in body
    # 2026 is chosen by default: the library's schedule is listed with Chinese names.
    assert "国庆节" in body and "2026-10-10" in body


def test_it_lists_the_entries_of_the_chosen_year(admin_client):
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    CalendarDay.objects.create(date=dt.date(2028, 1, 1), kind=HOLIDAY, name="二八元旦")
    body = admin_client.get(INDEX, {"year": 2027}).content.decode()
    assert "元旦" in body and "二八元旦" not in body


def test_the_page_makes_few_queries(admin_client, django_assert_max_num_queries):
    for i in range(20):
        CalendarDay.objects.create(date=dt.date(2027, 1, 1) + dt.timedelta(days=i), kind=HOLIDAY)
    with django_assert_max_num_queries(8):
        assert admin_client.get(INDEX, {"year": 2027}).status_code == 200


OTHERS = ["district_office", "street_office", "worker_a", "cadre_a", "resident_user_a"]


@pytest.mark.parametrize("name", OTHERS)
def test_nobody_else_reaches_it(client, world, name):
    day = CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=HOLIDAY)
    client.force_login(world.users()[name])
    assert client.get(INDEX).status_code == 403
    assert client.post(INDEX, {"date": "2027-01-02", "kind": HOLIDAY}).status_code == 403
    assert client.post(IMPORT, {"file": upload("2027-01-03,休")}).status_code == 403
    assert client.get(reverse("workcal:edit", args=[day.pk])).status_code == 403
    assert client.post(reverse("workcal:delete", args=[day.pk])).status_code == 403
    assert client.get(reverse("workcal:example")).status_code == 403
    assert CalendarDay.objects.count() == 1


def test_it_sends_strangers_to_log_in(client, db):
    response = client.get(INDEX)
    assert response.status_code == 302 and "login" in response.url


def test_adding_a_day_is_audited(admin_client):
    response = admin_client.post(INDEX, {"date": "2027-01-01", "kind": HOLIDAY, "name": "元旦"})
    assert response.status_code == 302 and response.url.endswith("?year=2027")
    day = CalendarDay.objects.get()
    assert (day.date, day.kind, day.name) == (dt.date(2027, 1, 1), HOLIDAY, "元旦")
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.CREATE and entry.target.endswith(f":{day.pk}")


def test_a_duplicate_date_is_refused_clearly(admin_client):
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    response = admin_client.post(INDEX, {"date": "2027-01-01", "kind": WORKDAY})
    assert response.status_code == 200
    assert "这一天已有记录" in response.content.decode()
    assert CalendarDay.objects.get().kind == HOLIDAY


def test_bad_input_is_refused_clearly(admin_client):
    response = admin_client.post(INDEX, {"date": "2027-02-30", "kind": "vacation"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "有效的日期" in body and "选择一个有效的选项" in body
    assert not CalendarDay.objects.exists()


def test_editing_and_deleting_are_audited(admin_client):
    day = CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    edit = reverse("workcal:edit", args=[day.pk])
    assert admin_client.get(edit).status_code == 200
    response = admin_client.post(edit, {"date": "2027-01-01", "kind": HOLIDAY, "name": "新年"})
    assert response.status_code == 302
    day.refresh_from_db()
    assert day.name == "新年"
    admin_client.post(reverse("workcal:delete", args=[day.pk]))
    assert not CalendarDay.objects.exists()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "detail"))
    assert [a for a, _ in actions] == [AuditEntry.Action.CHANGE, AuditEntry.Action.CHANGE]
    assert "删除" in actions[1][1]


def test_a_missing_entry_is_404(admin_client):
    assert admin_client.get(reverse("workcal:edit", args=[999])).status_code == 404


def test_a_file_with_one_bad_line_imports_nothing(admin_client):
    text = "2027-01-01,holiday,元旦\n2027-02-07,workday,春节调休\n2027-02-31,休,春节\n"
    response = admin_client.post(IMPORT, {"file": upload(text)})
    body = response.content.decode()
    assert response.status_code == 200
    assert "第 3 行" in body and "2027-02-31" in body
    assert "第 1 行" not in body
    assert "一条也没有导入" in body
    assert not CalendarDay.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_good_file_adds_and_updates(admin_client):
    CalendarDay.objects.create(date=dt.date(2027, 2, 7), kind=HOLIDAY, name="错的", note="旧备注")
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), kind=HOLIDAY, name="元旦")
    text = "日期,类型,名称\n2027-01-01,holiday,元旦\n2027-02-07,班,春节调休\n2027-02-08,放假,春节\n"
    response = admin_client.post(IMPORT, {"file": upload(text, encoding="gbk")}, follow=True)
    body = response.content.decode()
    assert "新增 1 条，更新 1 条，1 条没有变化" in body
    days = {d.date: d for d in CalendarDay.objects.all()}
    assert days[dt.date(2027, 2, 7)].kind == WORKDAY
    assert days[dt.date(2027, 2, 7)].note == "旧备注"  # the line had no note: kept
    assert days[dt.date(2027, 2, 8)].kind == HOLIDAY
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT).count() == 2


def test_it_imports_only_csv_or_txt(admin_client):
    response = admin_client.post(IMPORT, {"file": upload("2027-01-01,休", name="a.xlsx")})
    assert "只能上传 .csv 或 .txt 文件" in response.content.decode()
    assert not CalendarDay.objects.exists()


def test_the_example_file_imports_as_it_is(admin_client):
    example = admin_client.get(reverse("workcal:example")).content.decode()
    admin_client.post(IMPORT, {"file": upload(example)})
    assert CalendarDay.objects.count() == 2
