"""``prepared.insert(obj)`` writes the row ``obj.save()`` writes, with the SQL built once."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F, signals
from django.db.models.sql.compiler import SQLInsertCompiler
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tongxin.audit.models import AuditEntry
from tongxin.core import prepared
from tongxin.demands.models import Category, Demand, DemandEvent, Notification


def _row(model, pk) -> dict:
    """The row as the database has it, read back through the ORM."""
    obj = model.objects.get(pk=pk)
    return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}


NOW = timezone.now()


def _demand(world, **fields) -> Demand:
    now = NOW
    values = {
        "area": world.building_a,
        "community": world.community_a,
        "category": Category.objects.first(),
        "title": "楼道灯不亮",
        "description": "三单元",
        "extra": {"楼层": 3, "note": "夜里"},
        "created_at": now,
        "deadline": now,
        "clock_started_at": now,
        **fields,
    }
    return Demand(**values)


def test_it_writes_the_row_save_writes(world):
    by_orm = _demand(world, tracking_code="ORM0000001", reporter=world.resident_a1)
    by_orm.save()
    ours = prepared.insert(_demand(world, tracking_code="OURS000001", reporter=world.resident_a1))
    assert ours.pk is not None and ours.pk != by_orm.pk
    assert ours._state.adding is False and ours._state.db == "default"
    a, b = _row(Demand, by_orm.pk), _row(Demand, ours.pk)
    for differs in ("id", "tracking_code"):
        a.pop(differs), b.pop(differs)
    assert a == b
    assert b["extra"] == {"楼层": 3, "note": "夜里"} and b["state"] == by_orm.state


def test_defaults_and_auto_now_add_are_filled_in(world):
    before = timezone.now()
    entry = prepared.insert(AuditEntry(user=world.admin, action="test.insert"))
    read = AuditEntry.objects.get(pk=entry.pk)
    assert read.at >= before and read.at == entry.at
    note = prepared.insert(Notification(user=world.worker_a, text="新诉求"))
    assert Notification.objects.get(pk=note.pk).created_at == note.created_at
    assert note.read_at is None


def test_a_primary_key_that_is_not_a_counter(db):
    """django-tasks' rows have a UUID made in Python: written with the row."""
    task = prepared.insert(
        DBTaskResult(
            args_kwargs={"args": [1], "kwargs": {}},
            task_path="tongxin.demands.notify.deliver_task",
            queue_name="default",
            backend_name="default",
        )
    )
    read = DBTaskResult.objects.get(pk=task.pk)
    assert read.args_kwargs == {"args": [1], "kwargs": {}} and read.enqueued_at is not None


def test_the_sql_is_built_once(world):
    calls = []
    real = SQLInsertCompiler.as_sql

    def counting(self, *args, **kwargs):
        calls.append(self.query.model)
        return real(self, *args, **kwargs)

    with mock.patch.object(SQLInsertCompiler, "as_sql", counting):
        for i in range(3):
            prepared.insert(Notification(user=world.worker_a, text=f"第{i}条"))
        Notification(user=world.worker_a, text="ORM").save()
    assert calls == [Notification]  # the ORM's own save, not ours
    assert Notification.objects.filter(user=world.worker_a).count() == 4


def test_signals_are_sent_as_save_sends_them(world):
    seen = []

    def pre(sender, instance, **kwargs):
        seen.append(("pre", instance.pk, kwargs["update_fields"]))

    def post(sender, instance, created, **kwargs):
        seen.append(("post", instance.pk, created))

    signals.pre_save.connect(pre, sender=Notification)
    signals.post_save.connect(post, sender=Notification)
    try:
        note = prepared.insert(Notification(user=world.worker_a, text="x"))
    finally:
        signals.pre_save.disconnect(pre, sender=Notification)
        signals.post_save.disconnect(post, sender=Notification)
    assert seen == [("pre", None, None), ("post", note.pk, True)]


def test_what_it_cannot_do_is_refused(world):
    with pytest.raises(ValueError):  # a related row not saved yet
        prepared.insert(DemandEvent(demand=Demand(), kind="submitted"))
    with pytest.raises(TypeError):  # an expression needs the ORM's query
        prepared.insert(Notification(user=world.worker_a, text="x", created_at=F("read_at")))
    saved = prepared.insert(Notification(user=world.worker_a, text="x"))
    with pytest.raises(ValueError):  # not a new row
        prepared.insert(saved)
    assert Notification.objects.count() == 1


def test_a_failed_insert_rolls_back_with_its_transaction(world):
    prepared.insert(_demand(world, tracking_code="SAME000001"))
    with pytest.raises(IntegrityError), transaction.atomic():
        prepared.insert(Notification(user=world.worker_a, text="rolled back"))
        prepared.insert(_demand(world, tracking_code="SAME000001"))
    assert not Notification.objects.filter(text="rolled back").exists()
    assert Demand.objects.filter(tracking_code="SAME000001").count() == 1


# --- insert_together ----------------------------------------------------------------------
def _job(code: str) -> DBTaskResult:
    return DBTaskResult(
        args_kwargs={"args": [code], "kwargs": {}},
        task_path="tongxin.demands.notify.announce_task",
        queue_name="default",
        backend_name="default",
    )


def _event(demand: Demand, text: str = "已收到") -> DemandEvent:
    return DemandEvent(demand=demand, kind="submitted", text=text, at=NOW, data={"via": "web"})


def test_rows_written_together_are_the_rows_save_writes(world):
    """A demand, its event (keyed to the demand, whose key the database gives) and a job
    with a key of its own: each row as the ORM's save() writes it."""
    by_orm = _demand(world, tracking_code="ORM0000002")
    by_orm.save()
    orm_event = _event(by_orm)
    orm_event.save()
    demand = _demand(world, tracking_code="TOGETHER01")
    event = _event(demand)
    job = _job(demand.tracking_code)
    prepared.insert_together(demand, event, job)
    assert demand.pk is not None and event.pk is not None
    assert event.demand_id == demand.pk and event.demand is demand  # not read again
    for obj in (demand, event, job):
        assert obj._state.adding is False and obj._state.db == "default"
    a, b = _row(Demand, by_orm.pk), _row(Demand, demand.pk)
    for differs in ("id", "tracking_code"):
        a.pop(differs), b.pop(differs)
    assert a == b
    a, b = _row(DemandEvent, orm_event.pk), _row(DemandEvent, event.pk)
    assert a.pop("demand_id") == by_orm.pk and b.pop("demand_id") == demand.pk
    a.pop("id"), b.pop("id")
    assert a == b
    read = DBTaskResult.objects.get(pk=job.pk)
    assert read.args_kwargs == {"args": ["TOGETHER01"], "kwargs": {}}
    assert read.enqueued_at == job.enqueued_at


def test_rows_written_together_all_or_none(world):
    """A row that fails (a tracking code already taken) leaves none of them, and the
    transaction around it goes on."""
    prepared.insert(_demand(world, tracking_code="TAKEN00001"))
    events, jobs = DemandEvent.objects.count(), DBTaskResult.objects.count()
    with transaction.atomic():
        demand = _demand(world, tracking_code="TAKEN00001")
        with pytest.raises(IntegrityError):
            prepared.insert_together(demand, _event(demand), _job("TAKEN00001"))
        note = prepared.insert(Notification(user=world.worker_a, text="after"))  # usable
    assert Demand.objects.filter(tracking_code="TAKEN00001").count() == 1
    assert DemandEvent.objects.count() == events and DBTaskResult.objects.count() == jobs
    assert Notification.objects.filter(pk=note.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_rows_written_together_outside_a_transaction(django_assert_num_queries):
    """As a request writes them: on PostgreSQL one statement, committed alone; on SQLite
    one transaction. Either way a failed one leaves nothing."""
    from tongxin.areas.models import Area, Level
    from tongxin.demands.testing import category

    street = Area.add_root(name="街道", level=Level.STREET)
    community = street.add_child(name="社区", level=Level.COMMUNITY)
    demand = Demand(
        area=community,
        community=community,
        category=category(),
        title="路灯",
        description="不亮",
        created_at=NOW,
        deadline=NOW,
        tracking_code="ALONE00001",
    )
    postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(1 if postgresql else 5) as captured:  # BEGIN … COMMIT
        prepared.insert_together(demand, _event(demand), _job("ALONE00001"))
    if postgresql:
        assert captured.captured_queries[0]["sql"].startswith("WITH r0 AS (INSERT INTO")
    assert DemandEvent.objects.get().demand_id == demand.pk
    again = Demand(**{f.attname: getattr(demand, f.attname) for f in Demand._meta.fields})
    again.pk = None
    again._state.adding = True
    with pytest.raises(IntegrityError):
        prepared.insert_together(again, _event(again, "第二次"), _job("ALONE00001"))
    assert Demand.objects.count() == 1 and DemandEvent.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


def test_signals_of_rows_written_together(world):
    seen = []

    def post(sender, instance, created, **kwargs):
        seen.append((sender.__name__, instance.pk, created))

    signals.post_save.connect(post, sender=DemandEvent)
    signals.post_save.connect(post, sender=Demand)
    try:
        demand = _demand(world, tracking_code="SIGNALS001")
        event = _event(demand)
        prepared.insert_together(demand, event)
    finally:
        signals.post_save.disconnect(post, sender=DemandEvent)
        signals.post_save.disconnect(post, sender=Demand)
    assert seen == [("Demand", demand.pk, True), ("DemandEvent", event.pk, True)]


def test_what_insert_together_refuses(world):
    saved = prepared.insert(_demand(world, tracking_code="SAVED00001"))
    with pytest.raises(ValueError):  # not a new row
        prepared.insert_together(saved, _event(saved))
    other = _demand(world, tracking_code="OTHER00001")
    with pytest.raises(ValueError):  # a key to a new row that is not the first
        prepared.insert_together(_demand(world, tracking_code="FIRST00001"), _event(other))
    assert not Demand.objects.filter(tracking_code__in=["FIRST00001", "OTHER00001"]).exists()
