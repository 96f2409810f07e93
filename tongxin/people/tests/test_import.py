"""Importing residents from .xlsx: the pages, the task and the all-or-nothing rule."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook
from stdnum.cn import ric

from tongxin.areas.models import Area, Level
from tongxin.audit.models import AuditEntry
from tongxin.people import importer
from tongxin.people.models import CareTag, ImportJob, Resident
from tongxin.people.tasks import process_job
from tongxin.testing import ID_A1, valid_id

HEADERS = [
    "姓名",
    "性别",
    "身份证号",
    "电话",
    "社区",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "与户主关系",
    "关爱标签",
    "备注",
]
START = reverse("imports:start")


def xlsx_bytes(rows: list[list], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(data: bytes, name: str = "居民.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=importer.XLSX_TYPE)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_file(client: Client, data: bytes, capture, name: str = "居民.xlsx"):
    with capture(execute=True):
        return client.post(START, {"file": upload(data, name)})


def row(
    name,
    gender="",
    id_number="",
    phone="",
    community="仁和社区",
    estate="仁和家园",
    building="1栋",
    unit="1",
    room="101",
    relation="",
    tags="",
    note="",
):
    return [
        name,
        gender,
        id_number,
        phone,
        community,
        estate,
        building,
        unit,
        room,
        relation,
        tags,
        note,
    ]


def snapshot() -> tuple[int, int, int]:
    return Resident.objects.count(), Area.objects.count(), AuditEntry.objects.count()


GOOD = [
    row(
        "王小明",
        "男",
        valid_id(101),
        "13812345678",
        room="101",
        relation="户主",
        tags="低保户、空巢/独居老人",
    ),
    row(
        "赵丽",
        "",
        valid_id(102, "19850315"),
        "",
        unit="3",
        room="301",
        relation="配偶",
        tags="残疾人，住院",
    ),
    row("钱多多", "女", unit="3", room="301", tags="留守儿童；流动人口"),
    [None] * len(HEADERS),  # blank: skipped
    row("孙悟空", unit="2单元", room="502室", note="从外地迁入"),
]


@pytest.fixture
def worker(world) -> Client:
    return client_for(world.worker_a)


def _home_residents(client) -> int:
    page = client.get("/").content.decode()
    return int(re.search(r'居民人数</div><div class="tx-stat">([\d,]+)</div>', page)[1])


def test_it_imports_a_good_file(world, worker, django_capture_on_commit_callbacks):
    residents, areas, audits = snapshot()
    on_home = _home_residents(worker)  # the home page's count, kept from now on

    response = post_file(worker, xlsx_bytes(GOOD), django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("imports:job", args=[job.pk])
    assert job.status == ImportJob.Status.DONE, (job.message, job.errors)
    assert (job.total_rows, job.processed_rows) == (4, 4)
    assert (job.created_count, job.households_created) == (4, 1)
    assert job.finished_at is not None
    assert bytes(job.content) == b""  # the file does not outlive the job
    assert Resident.objects.count() == residents + 4
    assert Area.objects.count() == areas + 1
    assert _home_residents(worker) == on_home + 4  # written in bulk, counted at once

    wang = Resident.objects.get(name="王小明")
    assert wang.household == world.household_a1  # reused
    assert wang.tag_list == [CareTag.SUBSISTENCE, CareTag.ELDERLY_ALONE]
    assert (wang.name_pinyin, wang.name_initials, wang.phone_tail) == (
        "wangxiaoming",
        "wxm",
        "5678",
    )
    assert wang.gender == "M" and str(wang.birth_date) == "1980-01-01"
    assert wang.address_text == (
        "大安区 / 龙井街 / 仁和社区 / 仁和家园 / 第一网格 / 1栋 / 1单元101室"
    )
    assert Resident.objects.search("wxm").filter(pk=wang.pk).exists()

    zhao = Resident.objects.get(name="赵丽")
    qian = Resident.objects.get(name="钱多多")
    new_home = zhao.household
    assert qian.household == new_home  # one new household for both
    assert (new_home.name, new_home.level, new_home.unit, new_home.room) == (
        "3单元301室",
        Level.HOUSEHOLD,
        "3",
        "301",
    )
    assert Area.objects.get_parent(new_home) == world.building_a
    assert zhao.gender == "F"  # from the ID number
    assert zhao.tag_list == [CareTag.DISABLED, CareTag.HOSPITALISED]
    assert qian.tag_list == [CareTag.LEFT_BEHIND_CHILD, CareTag.MIGRANT]
    assert qian.id_number is None and qian.phone_tail == ""
    assert Resident.objects.get(name="孙悟空").household == world.household_a2

    world.building_a.refresh_from_db()
    assert world.building_a.numchild == 3
    assert all(not problems for problems in Area.objects.find_problems())

    entry = AuditEntry.objects.get(action=AuditEntry.Action.IMPORT)
    assert AuditEntry.objects.count() == audits + 1
    assert (entry.user, entry.target, entry.ip) == (
        world.worker_a,
        f"people.importjob:{job.pk}",
        None,
    )
    assert "4" in entry.detail


def test_it_finds_buildings_under_the_zone_column(
    world, worker, django_capture_on_commit_callbacks
):
    headers = [*HEADERS, "片区/网格"]
    data = xlsx_bytes([[*row("周一", unit="5", room="501"), "第一网格"]], headers)

    post_file(worker, data, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.DONE, job.errors
    assert Area.objects.get_parent(Resident.objects.get(name="周一").household) == world.building_a


BAD = [
    row("好人", id_number=valid_id(300)),  # 2: fine, but must not be imported either
    row("校验错", id_number=valid_id(301)[:-1] + ("0" if valid_id(301)[-1] != "0" else "1")),
    row("重复一", id_number=valid_id(302)),  # 4: first of two
    row("重复二", id_number=valid_id(302)),  # 5
    row("已登记", id_number=ID_A1),  # 6
    row("电话错", phone="12345"),  # 7
    row("楼错", building="9栋"),  # 8
    row("外社区", community="宏丰社区", estate="万佳庭苑", building="5栋"),  # 9
    row("标签错", tags="低保户、贫困户"),  # 10
    row("", phone="13811112222"),  # 11: no name
    row("多处错", gender="未知", phone="999", unit="", room="202"),  # 12
    row("新户", unit="8", room="808"),  # 13: would need a new household
]


def test_it_imports_nothing_and_reports_every_bad_row(
    world, worker, django_capture_on_commit_callbacks
):
    before = snapshot()

    post_file(worker, xlsx_bytes(BAD), django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert snapshot() == before
    assert {(e["row"], e["column"]) for e in job.errors} == {
        (3, "身份证号"),
        (5, "身份证号"),
        (6, "身份证号"),
        (7, "电话"),
        (8, "楼栋"),
        (9, "社区"),
        (10, "关爱标签"),
        (11, "姓名"),
        (12, "性别"),
        (12, "电话"),
        (12, "单元"),
    }
    messages = {(e["row"], e["column"]): e["message"] for e in job.errors}
    assert messages[(8, "楼栋")] == "在「仁和家园」下找不到「9栋」"
    assert messages[(5, "身份证号")] == "与第 4 行的身份证号重复"
    assert messages[(6, "身份证号")] == "该身份证号已在居民库中登记"
    assert "宏丰社区" in messages[(9, "社区")] and "管辖范围" in messages[(9, "社区")]
    assert "贫困户" in messages[(10, "关爱标签")]
    assert "校验位" in messages[(3, "身份证号")]
    assert [e["row"] for e in job.errors] == sorted(e["row"] for e in job.errors)

    page = worker.get(reverse("imports:job", args=[job.pk]))
    assert "在「仁和家园」下找不到「9栋」" in page.content.decode()
    assert page.content.decode().count("<tr>") == len(job.errors) + 1

    report = worker.get(reverse("imports:errors", args=[job.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    assert sheet.max_row == len(job.errors) + 1


def test_it_reports_missing_headers_once(world, worker, django_capture_on_commit_callbacks):
    headers = [h for h in HEADERS if h not in ("楼栋", "房号")]
    data = xlsx_bytes([["张飞", "男", "", "", "仁和社区", "仁和家园", "1", "", "", ""]], headers)

    post_file(worker, data, django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert len(job.errors) == 1
    assert job.errors[0]["row"] == 1
    assert "楼栋" in job.errors[0]["message"] and "房号" in job.errors[0]["message"]


def test_it_refuses_a_file_without_data(world, worker, django_capture_on_commit_callbacks):
    before = snapshot()

    post_file(worker, xlsx_bytes([[None] * len(HEADERS)]), django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert "没有居民数据" in job.message
    assert snapshot() == before


def not_an_xlsx_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ("姓名，电话\n张三,138\n".encode(), "居民.xlsx", "文件无法读取"),
        (not_an_xlsx_zip(), "居民.xlsx", "文件无法读取"),
        (xlsx_bytes(GOOD), "居民.csv", "只能上传 .xlsx"),
    ],
)
def test_it_rejects_what_is_not_an_xlsx(
    world, worker, django_capture_on_commit_callbacks, data, name, message
):
    before = snapshot()

    response = post_file(worker, data, django_capture_on_commit_callbacks, name)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()
    assert snapshot() == before


def test_it_rejects_an_oversized_file(world, worker, settings, django_capture_on_commit_callbacks):
    settings.TONGXIN_IMPORT_MAX_BYTES = 1000
    before = snapshot()

    response = post_file(worker, xlsx_bytes(GOOD), django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "文件太大" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert snapshot() == before


def test_it_refuses_the_same_file_twice(world, worker, django_capture_on_commit_callbacks):
    data = xlsx_bytes(GOOD)
    post_file(worker, data, django_capture_on_commit_callbacks)
    first = ImportJob.objects.get()
    count = Resident.objects.count()

    response = post_file(worker, data, django_capture_on_commit_callbacks, "再传一次.xlsx")

    assert response["Location"] == reverse("imports:job", args=[first.pk])
    assert ImportJob.objects.count() == 1
    assert Resident.objects.count() == count
    page = worker.get(response["Location"])
    assert "没有重复导入" in page.content.decode()


def test_it_refuses_the_same_file_while_the_first_is_queued(world, worker):
    data = xlsx_bytes(GOOD)
    worker.post(START, {"file": upload(data)})  # on_commit never runs: still pending
    worker.post(START, {"file": upload(data)})

    assert list(ImportJob.objects.values_list("status", flat=True)) == ["pending"]


def test_it_accepts_the_same_file_again_after_a_failure(
    world, worker, django_capture_on_commit_callbacks
):
    data = xlsx_bytes(BAD)
    post_file(worker, data, django_capture_on_commit_callbacks)
    post_file(worker, data, django_capture_on_commit_callbacks)

    assert ImportJob.objects.count() == 2


@pytest.mark.parametrize("who", ["cadre_a", "party_member_a", "resident_user_a"])
def test_it_forbids_users_who_cannot_change_the_register(world, who):
    client = client_for(getattr(world, who))

    assert client.get(START).status_code == 403
    assert client.post(START, {"file": upload(xlsx_bytes(GOOD))}).status_code == 403
    assert client.get(reverse("imports:template")).status_code == 403
    assert not ImportJob.objects.exists()


def test_it_hides_other_users_jobs(world, worker):
    job = ImportJob.objects.create(created_by=world.worker_b, original_name="b.xlsx", sha256="x")

    assert worker.get(reverse("imports:job", args=[job.pk])).status_code == 404
    assert worker.get(reverse("imports:progress", args=[job.pk])).status_code == 404
    assert client_for(world.admin).get(reverse("imports:job", args=[job.pk])).status_code == 200


def test_the_progress_partial_polls_until_finished(world, worker):
    job = ImportJob.objects.create(
        created_by=world.worker_a,
        original_name="a.xlsx",
        sha256="x",
        status=ImportJob.Status.VALIDATING,
        total_rows=10,
        processed_rows=3,
    )
    url = reverse("imports:progress", args=[job.pk])

    running = worker.get(url).content.decode()

    assert '<progress class="tx-progress" max="10" value="3">' in running
    assert 'hx-trigger="every 1s"' in running and f'hx-get="{url}"' in running
    assert "<html" not in running

    job.status, job.processed_rows = ImportJob.Status.DONE, 10
    job.save()
    done = worker.get(url).content.decode()
    assert '<progress class="tx-progress" max="10" value="10">' in done
    assert "hx-trigger" not in done


def test_the_job_page_includes_the_progress_partial(world, worker):
    job = ImportJob.objects.create(created_by=world.worker_a, original_name="a.xlsx", sha256="x")

    page = worker.get(reverse("imports:job", args=[job.pk])).content.decode()

    assert 'id="import-progress"' in page and 'hx-trigger="every 1s"' in page


def test_the_start_page_explains_the_columns(world, worker):
    page = worker.get(START).content.decode()

    for header in HEADERS:
        assert header in page
    assert reverse("imports:template") in page


def test_the_template_has_headers_an_example_and_the_care_tags(world, worker):
    response = worker.get(reverse("imports:template"))

    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames == ["居民", "说明"]
    rows = list(workbook["居民"].iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in importer.COLUMNS]
    assert rows[1][0] == "张三"
    assert ric.is_valid(rows[1][2])  # the example is a well-formed number
    notes = {r[0] for r in workbook["说明"].iter_rows(values_only=True)}
    assert {"低保户", "空巢/独居老人", "留守儿童"} <= notes


def test_an_untouched_template_imports_nothing(world, worker, django_capture_on_commit_callbacks):
    before = snapshot()
    data = b"".join(worker.get(reverse("imports:template")).streaming_content)

    post_file(worker, data, django_capture_on_commit_callbacks, "居民导入模板.xlsx")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert [(e["row"], e["column"]) for e in job.errors] == [(2, "姓名")]
    assert snapshot() == before


def test_a_grid_worker_imports_into_their_grid_only(world, django_capture_on_commit_callbacks):
    estate = Area.objects.get(name="仁和家园")
    estate.add_child(name="2栋", level=Level.BUILDING)
    client = client_for(world.grid_worker_a)

    post_file(
        client,
        xlsx_bytes([row("甲"), row("乙", building="2栋")]),
        django_capture_on_commit_callbacks,
    )

    job = ImportJob.objects.get()
    assert [(e["row"], e["column"]) for e in job.errors] == [(3, "楼栋")]
    assert "管辖范围" in job.errors[0]["message"]


def test_row_numbers_are_excel_row_numbers_past_blank_rows(world):
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"] = "同心社区居民登记表"  # a title line above the header
    sheet.append([])
    sheet.append([*HEADERS, "序号"])
    sheet.append([*row("甲"), 1])
    sheet.append([])
    sheet.append([None] * len(HEADERS) + [2])  # only its 序号： blank all the same
    sheet.append([*row("乙", phone="123"), 3])
    out = io.BytesIO()
    workbook.save(out)

    result = importer.validate(importer.read_sheet(out.getvalue()), world.worker_a)

    assert [(e.row, e.column) for e in result.errors] == [(7, "电话")]


def test_an_id_number_stored_as_a_number_is_refused(world):
    sheet = importer.read_sheet(xlsx_bytes([row("数字", id_number=5.10304198001011e17)]))

    result = importer.validate(sheet, world.worker_a)

    assert [(e.row, e.column) for e in result.errors] == [(2, "身份证号")]
    assert "文本格式" in result.errors[0].message


def test_it_rolls_back_when_an_id_is_registered_after_validation(world):
    sheet = importer.read_sheet(xlsx_bytes([row("新人", id_number=valid_id(401), room="909")]))
    result = importer.validate(sheet, world.worker_a)
    assert not result.errors
    Resident.objects.create(name="抢先", id_number=valid_id(401), household=world.household_a1)
    before = snapshot()

    with pytest.raises(importer.RowsRejected) as rejected:
        importer.write_rows(result.rows)

    assert [(e.row, e.column) for e in rejected.value.errors] == [(2, "身份证号")]
    assert snapshot() == before


def test_a_constraint_violation_fails_the_job_cleanly(world, monkeypatch):
    # Both checks miss the duplicate (as two imports racing on PostgreSQL could):
    # the unique constraint stops it, and nothing of the file remains.
    monkeypatch.setattr(importer, "registered_id_numbers", lambda id_rows: {})
    data = xlsx_bytes([row("新户人", unit="7", room="707"), row("撞号", id_number=ID_A1)])
    job = ImportJob.objects.create(
        created_by=world.worker_a, original_name="a.xlsx", sha256="x", content=data
    )
    before = snapshot()

    process_job(job)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert "冲突" in job.message
    assert snapshot() == before


def test_a_job_already_claimed_is_left_alone(world):
    job = ImportJob.objects.create(
        created_by=world.worker_a,
        original_name="a.xlsx",
        sha256="x",
        content=xlsx_bytes([row("一次")]),
        status=ImportJob.Status.VALIDATING,
    )

    process_job(job)  # as a second worker would, after the first claimed it

    assert not Resident.objects.filter(name="一次").exists()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATING and bytes(job.content)


def test_the_report_is_in_the_uploaders_language(
    world, worker, english, django_capture_on_commit_callbacks
):
    worker.cookies[english] = "en"
    post_file(worker, xlsx_bytes(BAD), django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    assert job.language == "en"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in job.message)
    assert "check digit" in " ".join(e["message"] for e in job.errors).lower()


def test_an_import_waits_on_the_long_queue(
    world, worker, settings, django_capture_on_commit_callbacks
):
    """Minutes of work: the worker of the queue "long" runs it, not the one the deadline
    sweep and the messages wait on."""
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    post_file(worker, xlsx_bytes(GOOD), django_capture_on_commit_callbacks)
    queued = DBTaskResult.objects.get(task_path="tongxin.people.tasks.run_import")
    assert queued.queue_name == "long"
