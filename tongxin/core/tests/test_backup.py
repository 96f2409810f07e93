"""Backups and restores (tongxin/core/backup.py, manage.py backup / restore).

The round trips run on both suites' databases: SQLite (the test database is the shared
in-memory one) and PostgreSQL (pg_dump / pg_restore into test_tongxin). They are
transactional tests: pg_dump and a second SQLite connection only see committed rows.
The SQLite-under-load test drives the real commands in subprocesses against a WAL file
database, as a server would have it."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from tongxin.core import backup
from tongxin.demands.models import Attachment, Demand, DemandEvent, EventKind
from tongxin.demands.testing import submit
from tongxin.people.models import Resident
from tongxin.testing import valid_id

ROOT = Path(__file__).resolve().parents[3]
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
OLD_KEY = "the-key-at-backup-time"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def data_dir(settings, tmp_path):
    """A data folder and a media root of the test's own (the restore writes into both)."""
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DATA_DIR.mkdir()
    settings.MEDIA_ROOT.mkdir()
    (settings.DATA_DIR / "secret_key").write_text(OLD_KEY)
    return settings.DATA_DIR


@pytest.fixture
def demand(world, data_dir):
    """A demand with its events and an uploaded photo, on top of the small world."""
    d = submit(world.household_a1, reporter=world.resident_a1)
    event = DemandEvent.objects.create(
        demand=d, kind=EventKind.NOTE, actor=world.worker_a, text="已联系物业", data={"n": 1}
    )
    attachment = Attachment(demand=d, event=event, original_name="楼道.jpg", size=len(PHOTO))
    attachment.file.save("photo.jpg", ContentFile(PHOTO), save=False)
    attachment.save()
    return d


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table the models own, field by field (tables of models whose
    migration is not written yet are left out)."""
    tables = set(connection.introspection.table_names())
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.db_table in tables
    }


def media_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def restore(path: Path, **kw) -> str:
    out = io.StringIO()
    call_command("restore", str(path), yes=True, stdout=out, **kw)
    return out.getvalue()


def test_round_trip(settings, data_dir, demand, tmp_path):
    assert Demand.objects.count() == 1 and DemandEvent.objects.filter(demand=demand).count() >= 2
    before = snapshot()
    media_before = media_files(settings.MEDIA_ROOT)
    assert list(media_before.values()) == [PHOTO]

    out = io.StringIO()
    call_command("backup", output=str(tmp_path / "backups"), stdout=out)
    [archive] = (tmp_path / "backups").iterdir()  # one file, no temporary left over
    assert re.fullmatch(r"tongxin-backup-\d{8}-\d{6}\.tar\.gz", archive.name)
    assert str(archive) in out.getvalue() and "demands_demand" in out.getvalue()
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    manifest = backup.read_manifest(archive)
    assert manifest["vendor"] == connection.vendor
    assert manifest["counts"] == backup.current_counts()
    assert manifest["counts"]["demands_demand"] == 1
    assert manifest["counts"]["people_resident"] == 3
    assert ["demands", "0001_initial"] in manifest["migrations"]
    assert manifest["media"]["files"] == 1 and manifest["secret_key"] is True
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and "secret_key" in names
    assert f"media/{demand.attachments.get().file.name}" in names

    # Everything changes after the backup ...
    photo_path, pk = Path(demand.attachments.get().file.path), demand.pk
    demand.delete()
    Resident.objects.create(
        name="新居民", id_number=valid_id(77), phone="13500000000", household=demand.area
    )
    photo_path.unlink()
    (settings.MEDIA_ROOT / "later.txt").write_bytes(b"uploaded after the backup")
    (data_dir / "secret_key").write_text("a-new-key")
    assert snapshot() != before

    # ... and the restore brings back exactly what was backed up.
    text = restore(archive)
    assert "恢复完成" in text and "1 / 1" in text
    assert snapshot() == before
    assert media_files(settings.MEDIA_ROOT) == media_before
    assert (data_dir / "secret_key").read_text() == OLD_KEY
    [kept] = data_dir.glob("secret_key.before-restore-*")
    assert kept.read_text() == "a-new-key"
    # The restored database is a working one.
    Demand.objects.get(pk=pk).events.create(kind=EventKind.NOTE, text="恢复后可写")


def test_backup_into_a_named_file_and_the_default_folder(data_dir, demand, tmp_path):
    named = backup.create_backup(tmp_path / "x" / "nightly.tar.gz")
    assert named.path == (tmp_path / "x" / "nightly.tar.gz").resolve() and named.size > 0
    now = timezone.now()
    first = backup.create_backup(now=now)
    second = backup.create_backup(now=now)
    assert first.path.parent == data_dir / "backups"
    # The same second: a second name, not an overwrite.
    assert second.path.name == first.path.name.replace(".tar.gz", "-2.tar.gz")
    assert sorted(p.name for p in (data_dir / "backups").iterdir() if p.name.startswith(".")) == []


def _rewrite_manifest(archive: Path, target: Path, **changes) -> Path:
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == "manifest.json":
                manifest = json.loads(data.read()) | changes
                raw = json.dumps(manifest).encode()
                member.size, data = len(raw), io.BytesIO(raw)
            dst.addfile(member, data)
    return target


def test_refuses_a_backup_of_the_other_vendor(settings, data_dir, demand, tmp_path):
    archive = backup.create_backup(tmp_path).path
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    foreign = _rewrite_manifest(archive, tmp_path / "foreign.tar.gz", vendor=other)
    demand.delete()
    after = snapshot()
    with pytest.raises(CommandError, match="不能直接恢复") as e:
        restore(foreign)
    assert backup.vendor_name(other) in str(e.value)
    assert snapshot() == after  # nothing changed
    newer = _rewrite_manifest(archive, tmp_path / "v9.tar.gz", format_version=9)
    with pytest.raises(CommandError, match="格式版本"):
        restore(newer)
    assert snapshot() == after


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not an archive"])
def test_a_damaged_archive_changes_nothing(settings, data_dir, demand, tmp_path, damage):
    archive = backup.create_backup(tmp_path).path
    raw = archive.read_bytes()
    bad = tmp_path / "bad.tar.gz"
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "flipped":
        middle = len(raw) // 2
        bad.write_bytes(raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :])
    else:
        bad.write_bytes(b"not a backup at all\n" * 100)

    # Change the data, so that a partial restore would show.
    demand.delete()
    (settings.MEDIA_ROOT / "later.txt").write_bytes(b"after")
    after, media_after = snapshot(), media_files(settings.MEDIA_ROOT)
    with pytest.raises(CommandError, match=r"损坏|不完整|不是同心的备份文件"):
        restore(bad)
    assert snapshot() == after
    assert media_files(settings.MEDIA_ROOT) == media_after
    assert (data_dir / "secret_key").read_text() == OLD_KEY
    assert not any(p.name.startswith(".tongxin-restore-") for p in data_dir.iterdir())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_restore --clean")
def test_postgresql_tables_newer_than_the_backup_are_named(data_dir, demand, tmp_path):
    archive = backup.create_backup(tmp_path).path
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE backup_test_newer (id integer)")
    try:
        text = restore(archive)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS backup_test_newer")
    assert "备份里没有的表" in text and "backup_test_newer" in text
    assert "恢复完成" in text


def test_restore_asks_and_refuses_without_a_terminal(data_dir, demand, tmp_path, monkeypatch):
    archive = backup.create_backup(tmp_path).path
    demand.delete()
    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))  # not a TTY
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(archive), stdout=io.StringIO())
    assert not Demand.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump")
def test_a_failing_pg_dump_is_a_clear_error_and_leaves_no_file(data_dir, monkeypatch, tmp_path):
    real = backup.pg_env
    monkeypatch.setattr(backup, "pg_env", lambda sd: {**real(sd), "PGPORT": "1"})
    with pytest.raises(CommandError, match="pg_dump 失败"):
        call_command("backup", output=str(tmp_path / "b"), stdout=io.StringIO())
    assert list((tmp_path / "b").iterdir()) == []


def test_missing_pg_tools_are_a_clear_error(monkeypatch):
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(backup.BackupError, match=r"找不到 pg_dump.*postgresql-client"):
        backup._pg_tool("pg_dump")


def test_pg_env_passes_the_password_in_the_environment():
    env = backup.pg_env(
        {
            "NAME": "tx",
            "USER": "u",
            "PASSWORD": "s3cret",
            "HOST": "db",
            "PORT": 5433,
            "OPTIONS": {"sslmode": "require"},
        }
    )
    assert (env["PGDATABASE"], env["PGUSER"], env["PGPASSWORD"]) == ("tx", "u", "s3cret")
    assert (env["PGHOST"], env["PGPORT"], env["PGSSLMODE"]) == ("db", "5433", "require")


# --- SQLite under load: the real commands on a WAL file database ----------------------
def _manage(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TONGXIN_DATA_DIR": str(data), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite online backup")
def test_sqlite_backup_while_another_thread_writes(tmp_path):
    data = tmp_path / "data"
    migrated = _manage(data, "migrate", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    db = data / "tongxin.sqlite3"

    stop = threading.Event()
    written = []

    def writer():
        conn = sqlite3.connect(db, timeout=20, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        n = 0
        while not stop.is_set():
            n += 1
            conn.execute(
                "INSERT INTO areas_area (path, depth, numchild, name, level, code, unit, room)"
                " VALUES (?, 1, 0, ?, 1, '', '', '')",
                (f"{n:08d}", f"区域{n}"),
            )
            written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 200:
            stop.wait(0.01)
        done = _manage(data, "backup", "--output", str(tmp_path / "b"))
    finally:
        stop.set()
        thread.join()
    assert done.returncode == 0, done.stderr
    assert "备份完成" in done.stdout
    [archive] = (tmp_path / "b").iterdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    copy = tmp_path / "x" / "database.sqlite3"
    assert backup.sqlite_integrity(copy) == "ok"
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    conn = sqlite3.connect(copy)
    ids = [row[0] for row in conn.execute("SELECT id FROM areas_area ORDER BY id")]
    conn.close()
    # One moment of the database: every row committed up to then, none after.
    assert ids == list(range(1, len(ids) + 1))
    assert 200 <= len(ids) < len(written)
    assert manifest["counts"]["areas_area"] == len(ids)

    # And back into the live WAL file, with a reader connection open meanwhile.
    reader = sqlite3.connect(db)
    assert reader.execute("SELECT COUNT(*) FROM areas_area").fetchone()[0] == len(written)
    restored = _manage(data, "restore", str(archive), "--yes")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert reader.execute("SELECT COUNT(*) FROM areas_area").fetchone()[0] == len(ids)
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reader.close()

    refused = _manage(data, "restore", str(archive))  # stdin is not a terminal
    assert refused.returncode != 0 and "--yes" in refused.stderr
