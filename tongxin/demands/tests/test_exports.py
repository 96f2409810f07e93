"""The ledger's Excel export past EXPORT_DIRECT_LIMIT: a background job with a progress
page, its file for its creator alone, expiry, stale jobs, and the audit trail."""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from io import StringIO
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.worksheet import _writer as openpyxl_writer

from tongxin.audit.models import AuditEntry
from tongxin.demands import exports, ledger, views_ledger
from tongxin.demands.models import Channel, Demand, ExportJob
from tongxin.demands.testing import category, post_export, submit

SH = ZoneInfo("Asia/Shanghai")
LEDGER = reverse("demands:ledger")
EXPORT = reverse("demands:ledger_export")
Status = ExportJob.Status


@pytest.fixture(autouse=True)
def folder(settings, tmp_path):
    """A folder of this test's own for the files."""
    settings.TONGXIN_EXPORT_DIR = tmp_path / "exports"
    return tmp_path / "exports"


@pytest.fixture
def big(monkeypatch):
    """Every export goes to the background."""
    monkeypatch.setattr(views_ledger, "EXPORT_DIRECT_LIMIT", 0)


@pytest.fixture
def demands(world):
    """Three demands in community A (one by hotline), one in community B."""
    made = {}
    for i, (key, area, channel) in enumerate(
        [
            ("a1", world.household_a1, Channel.WEB),
            ("a2", world.household_a2, Channel.WEB),
            ("a3", world.community_a, Channel.HOTLINE),
            ("b1", world.household_b1, Channel.WEB),
        ]
    ):
        when = dt.datetime(2026, 3, 2 + i, 9, tzinfo=SH)
        made[key] = submit(
            area,
            title=f"诉求{key}",
            channel=channel,
            now=when,
            category=category("infrastructure") if key == "a3" else None,
        )
    return made


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def export(client, capture, **params):
    """Ask for the export with the task run as the worker would (the test backend runs
    it at once when the request's transaction commits)."""
    with capture(execute=True):
        return post_export(client, params)


def sheet_rows(response) -> list[tuple]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return list(book.active.iter_rows(values_only=True))


def numbers(*ds: Demand) -> list[str]:
    return [d.number for d in ds]


def make_job(user, **fields) -> ExportJob:
    fields.setdefault("description", "全部")
    job = ExportJob.objects.create(created_by=user, **fields)
    if "updated_at" in fields or "created_at" in fields:
        ExportJob.objects.filter(pk=job.pk).update(
            **{k: v for k, v in fields.items() if k in ("updated_at", "created_at")}
        )
        job.refresh_from_db()
    return job


def done_job(user, folder, now=None, rows=3, name="7-abc.xlsx") -> ExportJob:
    """A finished job with a file in the folder."""
    now = now or timezone.now()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"PK fake xlsx")
    return make_job(
        user,
        status=Status.DONE,
        file_name=name,
        total_rows=rows,
        processed_rows=rows,
        finished_at=now,
        expires_at=now + exports.KEEP,
    )


# --- small and large ---------------------------------------------------------------------------
def test_it_still_downloads_a_small_export_at_once(world, demands, monkeypatch):
    monkeypatch.setattr(views_ledger, "EXPORT_DIRECT_LIMIT", 2)
    r = post_export(client_for(world.worker_b))  # B has one demand: under the limit
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    assert [row[0] for row in sheet_rows(r)[1:]] == numbers(demands["b1"])
    assert not ExportJob.objects.exists()
    # Exactly at the limit is still at once.
    r = post_export(client_for(world.worker_a), {"channel": Channel.WEB})
    assert r.status_code == 200 and len(sheet_rows(r)) == 3
    assert not ExportJob.objects.exists()


def test_it_writes_a_large_export_in_the_background(
    world, demands, big, folder, django_capture_on_commit_callbacks
):
    worker = client_for(world.worker_a)
    with time_machine.travel(dt.datetime(2026, 5, 6, 7, 8, tzinfo=SH)):
        r = export(worker, django_capture_on_commit_callbacks)
        job = ExportJob.objects.get()
        assert r["Location"] == reverse("demands:export_job", args=[job.pk])
        assert job.created_by == world.worker_a and job.status == Status.DONE
        assert job.total_rows == job.processed_rows == 3
        assert job.description == "全部" and job.language == "zh-hans"
        assert job.expires_at == job.finished_at + exports.KEEP
        assert [p.name for p in folder.iterdir()] == [job.file_name]  # no temporary file left

        page = worker.get(r["Location"]).content.decode()
        assert "已完成" in page and "导出完成，共 3 行。" in page
        download = reverse("demands:export_download", args=[job.pk])
        assert f'href="{download}"' in page
        r = worker.get(download)
    assert r.status_code == 200 and r["Content-Type"] == ledger.XLSX
    assert quote("问题台账-20260506-0708.xlsx") in r["Content-Disposition"]
    rows = sheet_rows(r)
    assert rows[0][:3] == ("编号", "反映人", "联系电话")
    # Community A's worker gets A's demands, newest first, and nothing of B.
    assert [row[0] for row in rows[1:]] == numbers(demands["a3"], demands["a2"], demands["a1"])


def test_it_exports_the_filter_asked(world, demands, big, django_capture_on_commit_callbacks):
    street = client_for(world.street_office)
    export(street, django_capture_on_commit_callbacks, channel=Channel.WEB)
    job = ExportJob.objects.get()
    assert job.query == "channel=web" and job.description == "渠道=网页/扫码"
    rows = sheet_rows(street.get(reverse("demands:export_download", args=[job.pk])))
    assert [row[0] for row in rows[1:]] == numbers(demands["b1"], demands["a2"], demands["a1"])


def test_it_applies_the_users_scope_when_it_runs(world, demands, big):
    # Queued by community A's worker, who is moved to community B before it runs.
    post_export(client_for(world.worker_a))  # the task is queued on commit, which never comes
    job = ExportJob.objects.get()
    world.worker_a.area = world.community_b
    world.worker_a.save()
    exports.process_export(job)
    job.refresh_from_db()
    assert job.status == Status.DONE and job.total_rows == 1


def test_it_refuses_a_filter_outside_the_scope_when_it_runs(world, demands, big):
    post_export(client_for(world.worker_a), {"area": world.community_a.pk})
    job = ExportJob.objects.get()
    world.worker_a.area = world.community_b
    world.worker_a.save()
    exports.process_export(job)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "超出您现在的管辖范围" in job.message
    assert not job.file_name and not AuditEntry.objects.exists()


def test_it_refuses_a_user_no_longer_staff(world, demands, big):
    post_export(client_for(world.worker_a))
    job = ExportJob.objects.get()
    world.worker_a.role = world.party_member_a.role
    world.worker_a.save()
    exports.process_export(job)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "没有查看问题台账的权限" in job.message


def test_it_refuses_a_filter_in_error_before_making_a_job(world, demands, big):
    r = post_export(client_for(world.worker_a), {"area": world.community_b.pk})
    assert r.status_code == 302 and r["Location"].startswith(LEDGER)
    assert not ExportJob.objects.exists()


# --- double submits --------------------------------------------------------------------------------
def test_a_double_submit_gets_the_same_job(world, demands, big):
    worker = client_for(world.worker_a)
    first = post_export(worker, {"channel": "", "q": ""})  # queued: on_commit never runs here
    again = post_export(worker)  # the same filter, spelt without the empty fields
    job = ExportJob.objects.get()
    assert first["Location"] == again["Location"] == job.get_absolute_url()
    assert "同样的导出已在进行" in worker.get(again["Location"]).content.decode()
    # Another filter is another job; so is the same one once the first has finished.
    post_export(worker, {"channel": Channel.WEB})
    assert ExportJob.objects.count() == 2
    job.status = Status.DONE
    job.save()
    post_export(worker)
    assert ExportJob.objects.count() == 3
    # And another user's same filter is theirs.
    post_export(client_for(world.street_office))
    assert ExportJob.objects.count() == 4


def test_a_stale_job_does_not_hold_back_a_new_one(world, demands, big):
    make_job(
        world.worker_a, status=Status.RUNNING, updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    post_export(client_for(world.worker_a))
    assert ExportJob.objects.filter(status=Status.PENDING).count() == 1


def test_it_allows_a_few_exports_under_way_at_once(world, demands, big):
    worker = client_for(world.worker_a)
    for channel in (Channel.WEB, Channel.HOTLINE, ""):
        post_export(worker, {"channel": channel})
    r = post_export(worker, {"category": category("infrastructure").pk}, follow=True)
    assert ExportJob.objects.count() == exports.MAX_UNDER_WAY
    assert "已有 3 个导出正在进行" in r.content.decode()


# --- the page and its progress ---------------------------------------------------------------------
def test_the_progress_partial_polls_until_finished(world):
    job = make_job(world.worker_a, status=Status.RUNNING, total_rows=50_000, processed_rows=12_000)
    url = reverse("demands:export_progress", args=[job.pk])
    worker = client_for(world.worker_a)

    running = worker.get(url).content.decode()
    assert '<progress class="tx-progress" max="50000" value="12000">' in running
    assert "已写入 12000 / 50000 行（24%）" in running
    assert 'hx-trigger="every 2s"' in running and f'hx-get="{url}"' in running
    assert "<html" not in running

    job.status, job.processed_rows = Status.DONE, 50_000
    job.file_name, job.expires_at = "x.xlsx", timezone.now() + exports.KEEP
    job.save()
    done = worker.get(url).content.decode()
    assert "hx-trigger" not in done and "导出完成，共 50000 行。" in done
    assert reverse("demands:export_download", args=[job.pk]) in done


def test_the_job_page_says_what_was_asked_and_lists_the_last_few(
    world, demands, big, django_assert_max_num_queries
):
    worker = client_for(world.worker_a)
    post_export(worker, {"channel": Channel.HOTLINE, "category": category("infrastructure").pk})
    job = ExportJob.objects.get()
    older = [make_job(world.worker_a, status=Status.FAILED, message="x") for _ in range(3)]
    make_job(world.worker_b, description="宏丰的导出")

    with django_assert_max_num_queries(12) as few:
        page = worker.get(job.get_absolute_url()).content.decode()
    assert "类别=基础设施；渠道=热线电话" in page and "排队中" in page
    assert 'id="export-progress"' in page and 'hx-trigger="every 2s"' in page
    recent = re.search(r'<table[^>]*id="export-recent".*?</table>', page, re.S)[0]
    assert recent.count("<tr>") == 1 + len(older) and "宏丰的导出" not in recent
    # The list costs the same whatever its length.
    for _ in range(10):
        make_job(world.worker_a, status=Status.FAILED, message="x")
    with django_assert_max_num_queries(len(few.captured_queries)):
        worker.get(job.get_absolute_url())


def test_the_ledger_lists_my_recent_exports(world, folder):
    done = done_job(world.worker_a, folder)
    running = make_job(world.worker_a, status=Status.RUNNING)
    make_job(world.worker_b)

    page = client_for(world.worker_a).get(LEDGER).content.decode()
    mine = re.search(r'<nav[^>]*id="my-exports".*?</nav>', page, re.S)[0]
    assert reverse("demands:export_download", args=[done.pk]) in mine
    assert running.get_absolute_url() in mine
    assert mine.count("<a ") == 2
    assert 'id="my-exports"' not in client_for(world.street_office).get(LEDGER).content.decode()


def test_the_ledger_lists_the_last_three_of_two_days_newest_first(world):
    now = timezone.now()
    make_job(world.worker_a, description="三天前", created_at=now - dt.timedelta(days=3))
    made = [
        make_job(world.worker_a, description=f"第{n}个", created_at=now - dt.timedelta(hours=9 - n))
        for n in range(5)
    ]
    for _ in range(2):  # the second time from the query this process has built
        page = client_for(world.worker_a).get(LEDGER).content.decode()
        mine = re.search(r'<nav[^>]*id="my-exports".*?</nav>', page, re.S)[0]
        links = re.findall(r'href="([^"]+)"', mine)
        assert links == [job.get_absolute_url() for job in reversed(made[2:])]


# --- whose it is -----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["worker_b", "street_office", "district_office", "admin"])
def test_nobody_else_sees_or_downloads_a_job(world, folder, who):
    job = done_job(world.worker_a, folder)
    other = client_for(world.users()[who])
    for name in ("export_job", "export_progress", "export_download"):
        assert other.get(reverse(f"demands:{name}", args=[job.pk])).status_code == 404, name
    assert client_for(world.worker_a).get(job.get_absolute_url()).status_code == 200
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("who", ["party_member_a", "resident_user_a"])
def test_it_is_not_for_party_members_or_residents(world, folder, who):
    job = done_job(world.users()[who], folder)  # as if made while they were staff
    client = client_for(world.users()[who])
    for name in ("export_job", "export_progress", "export_download"):
        assert client.get(reverse(f"demands:{name}", args=[job.pk])).status_code == 403


def test_it_sends_strangers_to_sign_in(world, folder):
    job = done_job(world.worker_a, folder)
    for name in ("export_job", "export_progress", "export_download"):
        r = Client().get(reverse(f"demands:{name}", args=[job.pk]))
        assert r.status_code == 302 and "/login" in r["Location"]


def test_a_job_not_done_has_nothing_to_download(world):
    for status in (Status.PENDING, Status.RUNNING, Status.FAILED):
        job = make_job(world.worker_a, status=status)
        r = client_for(world.worker_a).get(reverse("demands:export_download", args=[job.pk]))
        assert r.status_code == 302 and r["Location"] == job.get_absolute_url()


# --- expiry ------------------------------------------------------------------------------------------
def test_an_expired_file_is_deleted_and_refused(world, folder):
    job = done_job(world.worker_a, folder)
    done_job(world.worker_b, folder, now=timezone.now() + dt.timedelta(hours=2), name="8-def.xlsx")
    download = reverse("demands:export_download", args=[job.pk])
    later = job.expires_at + dt.timedelta(minutes=1)

    with time_machine.travel(later):
        worker = client_for(world.worker_a)  # signed in then: a session lasts a working day
        # Refused from the moment it expires, before any clean-up ran.
        r = worker.get(download)
        assert r.status_code == 410 and "导出文件已过期" in r.content.decode()
        assert exports.expire_exports() == 1

    job.refresh_from_db()
    assert job.status == Status.EXPIRED and not job.file_name
    assert [p.name for p in folder.iterdir()] == ["8-def.xlsx"]
    r = worker.get(download)
    assert r.status_code == 410 and "只保留 24 小时" in r.content.decode()
    again = re.search(
        r'<form method="post"[^>]*action="([^"]*)">.*?按同样的条件重新导出', r.content.decode()
    )
    assert again and again[1] == EXPORT
    assert "已过期" in worker.get(job.get_absolute_url()).content.decode()
    assert not AuditEntry.objects.exists()


def test_a_file_gone_from_the_folder_is_refused(world, folder):
    job = done_job(world.worker_a, folder)
    (folder / job.file_name).unlink()  # a restored database, a hand-tidied folder
    r = client_for(world.worker_a).get(reverse("demands:export_download", args=[job.pk]))
    assert r.status_code == 410
    assert not AuditEntry.objects.exists()


def test_the_scheduler_expires_the_files(world, folder):
    job = done_job(world.worker_a, folder)
    out = StringIO()
    with time_machine.travel(job.expires_at + dt.timedelta(minutes=1)):
        call_command("run_scheduler", "--once", stdout=out)
    assert "删除过期导出文件 1 个" in out.getvalue()
    job.refresh_from_db()
    assert job.status == Status.EXPIRED and not any(folder.iterdir())


def test_every_export_job_tidies_up_after_its_own_work(
    world, demands, big, folder, django_capture_on_commit_callbacks
):
    old = done_job(world.worker_b, folder, now=timezone.now() - exports.KEEP)
    export(client_for(world.worker_a), django_capture_on_commit_callbacks)
    new = ExportJob.objects.get(created_by=world.worker_a)
    old.refresh_from_db()
    assert new.status == Status.DONE and old.status == Status.EXPIRED
    assert [p.name for p in folder.iterdir()] == [new.file_name]


def test_it_deletes_files_no_job_needs(world, folder):
    running = make_job(world.worker_a, status=Status.RUNNING)
    dead = make_job(world.worker_a, status=Status.FAILED)
    done = done_job(world.worker_a, folder)
    (folder / f".part-{running.pk}-1.xlsx").write_bytes(b"being written")
    (folder / f".part-{dead.pk}-2.xlsx").write_bytes(b"left by a killed worker")
    (folder / "99-fff.xlsx").write_bytes(b"renamed, then the worker was killed")

    exports.expire_exports()
    assert {p.name for p in folder.iterdir()} == {
        f".part-{running.pk}-1.xlsx",
        done.file_name,
        "99-fff.xlsx",  # might be a job about to be marked done: given a few minutes
    }
    # Later, still within the running job's STALE_AFTER.
    with time_machine.travel(timezone.now() + exports.ORPHAN_GRACE + dt.timedelta(minutes=1)):
        exports.expire_exports()
    assert {p.name for p in folder.iterdir()} == {f".part-{running.pk}-1.xlsx", done.file_name}


def test_it_leaves_a_killed_workers_working_folder_only_while_its_job_runs(world, folder):
    running = make_job(world.worker_a, status=Status.RUNNING)
    dead = make_job(world.worker_a, status=Status.FAILED)
    for job in (running, dead):
        work = folder / f".part-{job.pk}-work"
        work.mkdir(parents=True)
        (work / "openpyxl.abc.xml").write_bytes(b"<row/>" * 100)

    exports.expire_exports()
    assert {p.name for p in folder.iterdir()} == {f".part-{running.pk}-work"}


def test_openpyxls_working_file_is_in_the_jobs_folder_not_the_systems(
    world, demands, folder, monkeypatch
):
    # openpyxl writes the whole sheet to a temporary file before zipping it; in /tmp (a
    # tmpfs on Debian 13) a district's ledger would sit in memory.
    made = []
    real = openpyxl_writer.create_temporary_file

    def watched(suffix=""):
        path = Path(real(suffix))
        made.append((path, path.parent.stat().st_mode & 0o777))
        return str(path)

    monkeypatch.setattr(openpyxl_writer, "create_temporary_file", watched)
    job = make_job(world.worker_a)
    exports.process_export(job)
    job.refresh_from_db()

    assert job.status == Status.DONE and job.total_rows == 3
    assert [(path.parent, mode) for path, mode in made] == [
        (folder / f".part-{job.pk}-work", 0o700)
    ]
    assert tempfile.gettempdir() != str(made[0][0].parent)  # the process's is as before
    assert [p.name for p in folder.iterdir()] == [job.file_name]  # the folder went with it


# --- stale jobs ---------------------------------------------------------------------------------------
def test_a_stale_running_job_shows_as_failed(world):
    now = timezone.now()
    job = make_job(
        world.worker_a,
        status=Status.RUNNING,
        total_rows=100,
        processed_rows=40,
        updated_at=now - ExportJob.STALE_AFTER - dt.timedelta(minutes=1),
    )
    alive = make_job(world.worker_a, status=Status.RUNNING, updated_at=now)
    worker = client_for(world.worker_a)

    partial = worker.get(reverse("demands:export_progress", args=[job.pk])).content.decode()
    assert "失败" in partial and "导出中断，请重新导出" in partial
    assert "hx-trigger" not in partial  # no forever-spinning bar
    job.refresh_from_db()
    assert job.status == Status.FAILED
    alive_page = worker.get(reverse("demands:export_progress", args=[alive.pk])).content.decode()
    assert "导出中" in alive_page and 'hx-trigger="every 2s"' in alive_page


def test_a_job_queued_too_long_shows_as_failed(world):
    job = make_job(
        world.worker_a,
        created_at=timezone.now() - ExportJob.QUEUE_TIMEOUT - dt.timedelta(minutes=1),
    )
    page = client_for(world.worker_a).get(job.get_absolute_url()).content.decode()
    assert "后台任务可能没有运行" in page and "hx-trigger" not in page
    exports.process_export(job)  # the worker, back at last, does not run it after all
    job.refresh_from_db()
    assert job.status == Status.FAILED and not job.file_name


def test_a_worker_whose_job_was_declared_stale_drops_its_file(world, demands, folder, monkeypatch):
    job = make_job(world.worker_a)
    real = ledger.write_xlsx

    def slow_write(*args, **kwargs):
        count = real(*args, **kwargs)
        later = timezone.now() + ExportJob.STALE_AFTER + dt.timedelta(minutes=1)
        ExportJob.objects.get(pk=job.pk).fail_if_stale(later)  # a page looked meanwhile
        return count

    monkeypatch.setattr(ledger, "write_xlsx", slow_write)
    exports.process_export(job)
    job.refresh_from_db()
    assert job.status == Status.FAILED and "导出中断" in job.message
    assert not any(folder.iterdir())


def test_a_worker_killed_mid_file_leaves_no_file_marked_done(world, demands, folder, monkeypatch):
    job = make_job(world.worker_a)

    def dies(demands, out, now=None, progress=None):
        out.write(b"PK half a file")
        raise RuntimeError("killed")

    monkeypatch.setattr(ledger, "write_xlsx", dies)
    exports.process_export(job)
    job.refresh_from_db()
    assert job.status == Status.FAILED and not job.file_name
    assert "意外错误" in job.message
    assert not any(folder.iterdir())


def test_a_job_already_claimed_is_left_alone(world, demands, folder):
    job = make_job(world.worker_a, status=Status.RUNNING)
    exports.process_export(job)  # as a second worker would, after the first claimed it
    job.refresh_from_db()
    assert job.status == Status.RUNNING and not job.file_name
    assert not folder.exists() or not any(folder.iterdir())


def test_it_reports_progress_as_it_writes(world, demands, monkeypatch):
    monkeypatch.setattr(ledger, "PROGRESS_EVERY", 1)
    job = make_job(world.worker_a)
    seen = []
    real_save = exports._save

    def watching(j, **fields):
        real_save(j, **fields)
        seen.append(ExportJob.objects.get(pk=j.pk).processed_rows)

    monkeypatch.setattr(exports, "_save", watching)
    exports.process_export(job)
    # The count first, then every row as it is written.
    assert seen == [0, 1, 2, 3]
    job.refresh_from_db()
    assert job.status == Status.DONE and job.total_rows == 3


# --- the audit trail ---------------------------------------------------------------------------------
def test_it_audits_the_export_and_every_download(
    world, demands, big, django_capture_on_commit_callbacks
):
    worker = client_for(world.worker_a)
    export(worker, django_capture_on_commit_callbacks, channel=Channel.WEB)
    job = ExportJob.objects.get()
    made = AuditEntry.objects.get()
    assert made.user == world.worker_a and made.action == AuditEntry.Action.EXPORT
    assert made.target == f"demands.exportjob:{job.pk}" and made.ip is None
    assert "渠道=网页/扫码" in made.detail and "共 2 行" in made.detail

    download = reverse("demands:export_download", args=[job.pk])
    for _ in range(2):
        worker.get(download, REMOTE_ADDR="10.1.2.3")
    downloads = AuditEntry.objects.exclude(pk=made.pk)
    assert downloads.count() == 2
    for entry in downloads:
        assert entry.user == world.worker_a and entry.action == AuditEntry.Action.EXPORT
        assert entry.target == made.target and entry.ip == "10.1.2.3"
        assert entry.detail.startswith("下载问题台账导出") and "共 2 行" in entry.detail


# --- language --------------------------------------------------------------------------------------
def test_the_file_and_the_page_are_in_the_creators_language(
    world, demands, big, english, django_capture_on_commit_callbacks
):
    worker = client_for(world.worker_a)
    worker.cookies[english] = "en"
    export(worker, django_capture_on_commit_callbacks, channel=Channel.WEB)
    job = ExportJob.objects.get()
    assert job.language == "en" and job.description == "Channel=Web/QR code"
    page = worker.get(job.get_absolute_url()).content.decode()
    assert "Export complete: 2 rows." in page and "Download Excel" in page
    rows = sheet_rows(worker.get(reverse("demands:export_download", args=[job.pk])))
    assert rows[0][0] == "No." and rows[1][4] == "Web/QR code"


def test_a_long_export_never_holds_back_the_sweep_or_a_message(
    world, demands, big, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A worker runs one task at a time: exports have a queue of their own ("long"),
    served by a worker of their own, so the deadline sweep and the messages queued
    behind an export (the "default" worker) run at once."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from tongxin.demands import tasks
    from tongxin.demands.tasks import sweep_deadlines_task

    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client_for(world.worker_a))
    sweep = sweep_deadlines_task.enqueue()
    job = ExportJob.objects.get()

    # The worker closes connections past their age between tasks: here that would be
    # the test's own, inside its transaction.
    from django_tasks_db.management.commands import db_worker

    monkeypatch.setattr(db_worker, "close_old_connections", lambda: None)
    # The sweep ends by refreshing SQLite's statistics, which outlive this test's
    # transaction and would change the plans later tests check.
    monkeypatch.setattr(tasks, "_optimize_sqlite", lambda: None)

    def drain(queue: str) -> None:
        call_command(
            "db_worker",
            queue_name=queue,
            batch=True,
            startup_delay=False,
            reload=False,
            verbosity=0,
        )

    drain("default")
    assert DBTaskResult.objects.get(pk=sweep.id).status == TaskResultStatus.SUCCESSFUL
    job.refresh_from_db()
    assert job.status == Status.PENDING
    drain("long")
    job.refresh_from_db()
    assert job.status == Status.DONE and job.total_rows == 3
