"""A background export of the ledger on a real database file, with other writes going on
while it reads (a resident reporting, a worker signing in, the sweep): every progress
report lands, and the job finishes.

On SQLite (WAL), the export's connection is held to the snapshot its open read began
with: once anyone else has written, that connection can no longer write at all
("database is locked" at once, whatever the busy timeout). The progress must go
through another connection."""

from __future__ import annotations

import json

import pytest

from tests.live.conftest import pg_run_only, sqlite_run_only
from tests.live.server import manage

pytestmark = pytest.mark.live

EXPORT = """
import json, threading
from django.db import connections
from django.utils import timezone
from tongxin.accounts.models import User
from tongxin.areas.models import Area
from tongxin.audit.models import AuditEntry
from tongxin.demands import exports, ledger
from tongxin.demands.models import Category, ExportJob
from tongxin.demands.testing import submit

household = Area.objects.get(pk=SEED["household"])
for i in range(40):
    submit(household, title=f"诉求{i}", category=Category.objects.get(pk=SEED["category_id"]))
user = User.objects.get(pk=SEED["worker"])
job = ExportJob.objects.create(created_by=user, description="全部")
ledger.PROGRESS_EVERY = 5
ledger.EXPORT_CHUNK = 10  # the read stays open between chunks, as with many rows
real = exports._progress
landed = []


def someone_else_writes():
    # Another process would do; another thread has its own connection all the same.
    AuditEntry.objects.create(user=user, action="view_pd", target="x:1")
    connections.close_all()


def the_page_looks():
    # From another connection, as the web server's: the export's own is held to the
    # snapshot of its open read.
    landed.append(ExportJob.objects.get(pk=job.pk).processed_rows)
    connections.close_all()


def in_another_thread(work):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def progress(job, rows):
    in_another_thread(someone_else_writes)
    real(job, rows)
    in_another_thread(the_page_looks)


exports._progress = progress
exports.process_export(job)
job.refresh_from_db()
print("RESULT " + json.dumps(
    {"status": job.status, "message": job.message, "rows": job.total_rows, "landed": landed}
))
"""


def run_export(live) -> dict:
    script = f"SEED = {json.dumps(live.seed)}\n{EXPORT}"
    out = manage(live.env, "shell", "-v0", "-c", script)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def check(result: dict) -> None:
    assert result["status"] == "done", result["message"]
    assert result["rows"] == 40
    assert result["landed"] == list(range(5, 41, 5))


@sqlite_run_only
def test_progress_lands_while_others_write_sqlite(live_sqlite):
    check(run_export(live_sqlite))


@pg_run_only
def test_progress_lands_while_others_write_postgresql(live_pg):
    check(run_export(live_pg))
