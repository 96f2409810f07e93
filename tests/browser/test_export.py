"""Exporting a large ledger: the click leads to the job's page, whose bar follows the
background worker, then offers the file, which holds the worker's community alone.

Set TONGXIN_SCREENSHOTS to a folder to keep screenshots of the page (desktop and phone)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tongxin.demands import exports, views_ledger
from tongxin.demands.models import Demand, ExportJob
from tongxin.demands.testing import submit

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def shot(page, name: str) -> None:
    if folder := os.environ.get("TONGXIN_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_large_export_runs_in_the_background_and_is_downloaded(
    page, signed_in, browser_world, settings, monkeypatch, tmp_path
):
    # Queue the job without running it, so the page is seen waiting and then updating
    # itself; the test plays the background worker.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    settings.TONGXIN_EXPORT_DIR = tmp_path / "exports"
    monkeypatch.setattr(views_ledger, "EXPORT_DIRECT_LIMIT", 2)
    world = browser_world
    for i in range(3):
        submit(world.household_a1, title=f"楼道灯不亮{i}")
    elsewhere = submit(world.household_b1, title="宏丰的诉求")
    signed_in("worker_a")

    page.goto("/demands/ledger/")
    page.locator("#ledger-export").click()
    job = ExportJob.objects.get()
    expect(page).to_have_url(re.compile(rf"/demands/ledger/exports/{job.pk}/$"))
    expect(page.locator("h1")).to_have_text("导出问题台账")
    expect(page.locator("#export-filter")).to_have_text("全部")
    progress = page.locator("#export-progress")
    badge = progress.locator(".badge")
    expect(badge).to_have_text("排队中")
    expect(progress).to_contain_text("等待后台处理")

    page.evaluate("window.__no_reload = true")
    # The worker half-way (what process_export saves every 2,000 rows).
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, total_rows=3, processed_rows=1
    )
    expect(progress).to_contain_text("已写入 1 / 3 行（33%）")
    expect(progress.locator("progress")).to_have_attribute("value", "1")
    shot(page, "export-running")

    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.PENDING, processed_rows=0)
    exports.process_export(job)
    # The page polls (htmx, every 2 s) and offers the file without a reload.
    expect(badge).to_have_text("已完成")
    assert page.evaluate("window.__no_reload") is True
    expect(progress).to_contain_text("导出完成，共 3 行。")
    expect(progress).to_contain_text("文件保留到")
    shot(page, "export-done")
    page.set_viewport_size(PHONE)
    shot(page, "export-done-phone")

    with page.expect_download() as info:
        progress.get_by_role("link", name="下载 Excel").click()
    download = info.value
    assert re.fullmatch(r"问题台账-\d{8}-\d{4}\.xlsx", download.suggested_filename)
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    got = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert got == {d.number for d in Demand.objects.filter(community=world.community_a)}
    assert elsewhere.number not in got

    # The ledger lists it under 我的导出, a download link.
    page.goto("/demands/ledger/")
    mine = page.locator("#my-exports")
    expect(mine.locator("a")).to_have_count(1)
    expect(mine).to_contain_text("已完成")
    shot(page, "ledger-my-exports-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    shot(page, "ledger-my-exports")
