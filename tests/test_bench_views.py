"""The benchmark's reference views (bench/views.py): ``/bench/rows`` writes an intake's
three rows, each time new ones, by the statements an intake sends."""

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from bench import views as bench_views
from tongxin.demands.models import Demand, DemandEvent, EventKind


@pytest.fixture
def bench_server(settings, world):
    settings.ROOT_URLCONF = "bench.urls"
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
        }
    }
    bench_views._INTAKES.clear()  # made once per process for the database it met
    yield
    bench_views._INTAKES.clear()


def test_rows_writes_an_intakes_three_rows_new_each_time(client, bench_server):
    demands, events, jobs = (
        Demand.objects.count(),
        DemandEvent.objects.count(),
        set(DBTaskResult.objects.values_list("id", flat=True)),
    )
    for _ in range(3):
        assert client.post("/bench/rows").status_code == 200

    # What the view found out first (one intake, rolled back) left nothing behind.
    new = list(Demand.objects.order_by("pk")[demands:])
    assert len(new) == 3 and Demand.objects.count() == demands + 3
    assert len({d.tracking_code for d in new}) == 3
    assert len({d.submission_token for d in new}) == 3
    assert all(d.is_anonymous and d.state == "submitted" and d.deadline for d in new)
    # Each demand has its own first event, as an intake writes it.
    assert DemandEvent.objects.count() == events + 3
    for d in new:
        (event,) = d.events.all()
        assert event.kind == EventKind.SUBMITTED and event.public
    # And a job of its own in the queue.
    queued = DBTaskResult.objects.exclude(id__in=jobs)
    assert queued.count() == 3
    assert {j.task_path for j in queued} == {"tongxin.demands.notify.announce_task"}
    # The statements are the intake's: one on PostgreSQL, three on SQLite.
    (intake,) = bench_views._INTAKES.values()
    assert len(intake.sql) == (1 if connection.vendor == "postgresql" else 3)


def test_rows_takes_only_post(client, bench_server):
    assert client.get("/bench/rows").status_code == 405
