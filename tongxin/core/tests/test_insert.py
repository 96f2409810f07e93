"""``prepared.insert(obj)`` writes the row ``obj.save()`` writes, with the SQL built once."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError, transaction
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
