"""SQLite's writers queue on a lock file (tongxin.core.sqlite): a write transaction
holds ``<database>-writer.lock`` from its BEGIN to its COMMIT or ROLLBACK, a second one
waits for it there instead of in SQLite's busy handler, and the wait is bounded as
SQLite's own is."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction

ALIAS = "writer_queue_test"


@pytest.fixture
def db_file(tmp_path, django_db_blocker):
    path = tmp_path / "queue.sqlite3"
    connections.settings[ALIAS] = connections.configure_settings(
        {
            "default": connections.settings["default"],
            ALIAS: {
                "ENGINE": "tongxin.core.sqlite",
                "NAME": str(path),
                "OPTIONS": {
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 0.5,
                    "init_command": "PRAGMA journal_mode=WAL;",
                },
            },
        }
    )[ALIAS]
    with django_db_blocker.unblock():
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("CREATE TABLE t (x integer)")
        yield path
        connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]


def other_holder(path):
    """A file descriptor of the lock file of another writer (as another process has)."""
    return os.open(f"{path}-writer.lock", os.O_RDONLY | os.O_CREAT, 0o644)


def is_free(path) -> bool:
    fd = other_holder(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def rows() -> list[int]:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT x FROM t ORDER BY x")
        return [r[0] for r in cursor.fetchall()]


def test_a_write_transaction_holds_the_queue_from_begin_to_commit(db_file):
    assert is_free(db_file)
    with transaction.atomic(using=ALIAS):
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")
        assert not is_free(db_file)
        with transaction.atomic(using=ALIAS):  # a savepoint: the same transaction
            assert not is_free(db_file)
        assert not is_free(db_file)
    assert is_free(db_file)
    assert rows() == [1]


def test_a_rolled_back_transaction_frees_the_queue(db_file):
    with pytest.raises(ZeroDivisionError), transaction.atomic(using=ALIAS):
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (1)")
        1 / 0  # noqa: B018
    assert is_free(db_file)
    assert rows() == []


def test_a_connection_closed_in_a_transaction_frees_the_queue(db_file):
    with transaction.atomic(using=ALIAS):
        connections[ALIAS].close()
        assert is_free(db_file)
    assert rows() == []


def test_a_writer_waits_for_the_one_before_it_and_then_writes(db_file):
    holder = other_holder(db_file)
    fcntl.flock(holder, fcntl.LOCK_EX)
    errors: list[BaseException] = []

    def write() -> None:  # its own connection: Django's connections are per thread
        try:
            with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (2)")
        except BaseException as e:
            errors.append(e)
        finally:
            connections[ALIAS].close()

    writer = threading.Thread(target=write)
    try:
        writer.start()
        writer.join(0.2)
        assert writer.is_alive()  # waiting in the queue, not written
        assert rows() == []
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    writer.join(10)
    assert not writer.is_alive()
    assert errors == []
    assert rows() == [2]


def test_the_wait_is_bounded_and_fails_as_sqlite_does(db_file):
    holder = other_holder(db_file)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with (
            pytest.raises(OperationalError, match="database is locked"),
            transaction.atomic(using=ALIAS),
            connections[ALIAS].cursor() as cursor,
        ):
            cursor.execute("INSERT INTO t VALUES (3)")
        assert not is_free(db_file)  # still the other writer's
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    assert rows() == []
    # And the connection writes again after.
    with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (4)")
    assert rows() == [4]


def test_tongxin_queues_its_sqlite_writers_unless_told_not_to(tmp_path):
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TONGXIN_DATA_DIR")}
    env.update(DJANGO_SETTINGS_MODULE="tongxin.settings", TONGXIN_DATA_DIR=str(tmp_path))
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    kw = {"capture_output": True, "text": True, "check": True, "cwd": settings.BASE_DIR}
    on = subprocess.run(run, env=env, **kw)
    off = subprocess.run(run, env={**env, "TONGXIN_SQLITE_WRITER_QUEUE": "0"}, **kw)
    assert on.stdout.strip() == "tongxin.core.sqlite"
    assert off.stdout.strip() == "django.db.backends.sqlite3"


def test_a_lock_file_that_cannot_be_opened_leaves_sqlites_own_lock(db_file, caplog):
    lock = f"{db_file}-writer.lock"
    connections[ALIAS].close()
    os.remove(lock)
    os.mkdir(lock)  # not a file: cannot be opened
    with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (5)")
    assert rows() == [5]
    assert "SQLite writers not queued" in caplog.text


def test_the_lock_file_is_readable_by_the_servers_user_whoever_made_it(db_file):
    with transaction.atomic(using=ALIAS):
        pass
    assert os.stat(f"{db_file}-writer.lock").st_mode & 0o777 == 0o644
