"""Importing a resident spreadsheet with mistakes: nothing is imported, every problem is
listed by row and column."""

from __future__ import annotations

import re

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from tongxin.people.models import ImportJob, Resident
from tongxin.people.tasks import process_job
from tongxin.testing import valid_id

pytestmark = pytest.mark.browser

HEADERS = [
    "姓名", "性别", "身份证号", "电话", "社区", "小区", "楼栋", "单元", "房号",
    "与户主关系", "关爱标签", "备注",
]  # fmt: skip
GOOD_ID = valid_id(7, "19850505")  # 7 is odd: a man's number
_VALID = valid_id(9, "19700101")
BAD_CHECK_DIGIT = _VALID[:-1] + ("1" if _VALID.endswith("0") else "0")


def row(name, gender="", id_number="", phone="", community="仁和社区", building="1栋"):
    return [
        name, gender, id_number, phone, community, "仁和家园", building, "3", "601",
        "户主", "", "",
    ]  # fmt: skip


# Excel row number (the header is row 1) -> the column the page must blame.
ROWS = [
    row("赵六", "男", GOOD_ID, "13812345678"),  # row 2: good
    row("钱七", id_number=BAD_CHECK_DIGIT),  # row 3
    row("孙八", building="9栋"),  # row 4: no such building in 仁和家园
    row("周九", phone="12345"),  # row 5
    row("吴十", community="宏丰社区"),  # row 6: not the worker's community
]
EXPECTED = {3: "身份证号", 4: "楼栋", 5: "电话", 6: "社区"}


@pytest.fixture
def bad_file(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for values in ROWS:
        sheet.append(values)
    path = tmp_path / "居民-有错.xlsx"
    workbook.save(path)
    return path


def test_a_file_with_bad_rows_imports_nothing_and_lists_each_problem(
    page, signed_in, bad_file, settings
):
    # Queue the job without running it, so the page is seen waiting and then updating
    # itself; the test plays the background worker.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    residents_before = Resident.objects.count()
    signed_in("worker_a")
    page.get_by_role("link", name="导入居民").first.click()
    expect(page.locator("h1")).to_have_text("导入居民")

    page.set_input_files("#id_file", bad_file)
    page.get_by_role("button", name="上传并检查").click()

    job = ImportJob.objects.get()
    expect(page).to_have_url(re.compile(rf"/residents/import/{job.pk}/$"))
    expect(page.locator("h1")).to_have_text(bad_file.name)
    progress = page.locator("#import-progress")
    badge = progress.locator(".badge").first
    expect(badge).to_have_text("排队中")
    expect(progress).to_contain_text("等待后台处理")

    page.evaluate("window.__no_reload = true")
    process_job(job)
    # The page polls (htmx, every second) and shows the outcome without a reload.
    expect(badge).to_have_text("失败")
    assert page.evaluate("window.__no_reload") is True
    expect(progress).to_contain_text(
        f"发现 {len(EXPECTED)} 处问题，涉及 {len(EXPECTED)} 行。未导入任何数据"
    )

    table = progress.locator("table")
    expect(table.locator("caption")).to_contain_text(f"共 {len(EXPECTED)} 处问题")
    cells = table.locator("tbody tr")
    expect(cells).to_have_count(len(EXPECTED))
    for i, (number, column) in enumerate(EXPECTED.items()):
        expect(cells.nth(i).locator("td").nth(0)).to_have_text(str(number))
        expect(cells.nth(i).locator("td").nth(1)).to_have_text(column)
    expect(cells.nth(0).locator("td").nth(2)).to_contain_text("校验位")
    expect(cells.nth(1).locator("td").nth(2)).to_contain_text("9栋")
    expect(cells.nth(3).locator("td").nth(2)).to_contain_text("不在您的管辖范围内")
    expect(table.locator("tbody td").filter(has_text=re.compile(r"^\s*2\s*$"))).to_have_count(0)
    expect(progress.get_by_role("link", name="下载问题清单")).to_be_visible()

    assert Resident.objects.count() == residents_before
    assert not Resident.objects.filter(name="赵六").exists()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    assert job.content == b""  # the uploaded personal data is not kept
