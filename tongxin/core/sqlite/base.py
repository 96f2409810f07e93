"""Django's SQLite backend, with the writers of one database file queued on a lock file.

SQLite lets one writer in at a time. A second one (``BEGIN IMMEDIATE`` while another
process writes) is turned away and retried by SQLite's busy handler, which sleeps 1, 2,
5, 10 … milliseconds between tries: when two gunicorn workers write at once, the one
turned away sleeps a whole millisecond for a lock that is usually free again after a
few hundred microseconds, and the cores stand idle meanwhile. Here every write
transaction first takes an exclusive ``flock`` on ``<database>-writer.lock``, trying
again after 20, 40, 80 … microseconds (at most a millisecond apart), so a waiter comes
in soon after the writer before it commits and finds SQLite's own lock free. The wait
is bounded by the connection's ``timeout`` (as SQLite's own), after which it fails as
SQLite does ("database is locked"). Measured with ``bench/run --quick`` (2 workers,
8 connections), alternated: the framework ceiling 2,158–2,218 → 2,433–2,470 writes a
second, the API's intake 505–534 → 609–656.

Only transactions (``atomic()``) queue; a single statement in autocommit mode and any
other program writing the file (the sqlite3 shell, a backup) meet SQLite's own lock as
before. An in-memory database has no file and no queue."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)

# The waits between tries for the lock: short first (a write takes a few hundred
# microseconds), then a millisecond at most.
_FIRST_WAIT = 0.00002
_LONGEST_WAIT = 0.001


def _open_lock_file(path: str) -> int | None:
    """The lock file, opened for reading (``flock`` needs no more), made readable by all
    when new (it holds nothing): a lock file made by another user — ``manage.py`` run as
    root — does not keep the server's user out. Where it cannot be opened at all, no
    queue: SQLite's own lock still keeps writers apart."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as e:
        logger.warning("SQLite writers not queued: %s: %s", path, e)
        return None
    if os.fstat(fd).st_mode & 0o777 != 0o644:
        # What the umask took away (only the owner may change it).
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o644)
    return fd


class DatabaseWrapper(base.DatabaseWrapper):
    _writer_fd: int | None = None
    _writer_held: bool = False

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        self._close_writer_lock()
        if not self.is_in_memory_db():
            self._writer_fd = _open_lock_file(f"{self.settings_dict['NAME']}-writer.lock")
        return conn

    def _start_transaction_under_autocommit(self):
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._drop_writer_lock()
            raise

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._drop_writer_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._drop_writer_lock()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._close_writer_lock()

    # -- the lock file --
    def _take_writer_lock(self) -> None:
        fd = self._writer_fd
        if fd is None or self._writer_held:
            return
        deadline = time.monotonic() + float(self.settings_dict["OPTIONS"].get("timeout", 5))
        wait = _FIRST_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT)
                continue
            self._writer_held = True
            return

    def _drop_writer_lock(self) -> None:
        if self._writer_held:
            self._writer_held = False
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)

    def _close_writer_lock(self) -> None:
        fd, self._writer_fd = self._writer_fd, None
        self._writer_held = False
        if fd is not None:
            os.close(fd)  # closing the file releases its lock
