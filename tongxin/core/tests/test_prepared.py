"""A query built once and run again with other values gives what the ORM gives."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db.models import Q, signals
from django.db.models.sql.compiler import SQLCompiler

from tongxin.accounts.backends import AccountBackend, unread_messages
from tongxin.accounts.models import User
from tongxin.core.prepared import Prepared
from tongxin.demands.models import Attachment, Demand, Notification


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


@pytest.fixture
def compiled():
    """How many times the ORM builds a SELECT's SQL."""
    calls = []
    real = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        calls.append(self.query.model)
        return real(self, *args, **kwargs)

    with mock.patch.object(SQLCompiler, "as_sql", counting):
        yield calls


def test_it_gives_the_object_the_orm_gives_with_its_relation_and_annotation(world):
    Notification.objects.create(user=world.worker_a, text="有新的诉求")
    users = User.objects.select_related("area").annotate(unread_count=unread_messages())
    prepared = Prepared()

    def get(pk):
        return prepared.get("user", lambda pk: users.filter(pk=pk), pk)

    for user in (world.worker_a, world.street_office, world.admin):
        got, expected = get(user.pk), users.get(pk=user.pk)
        # Every column converted as the ORM converts it (booleans and aware times on
        # SQLite), the area read with it, the count annotated.
        assert _fields(got) == _fields(expected)
        assert type(got.is_active) is bool and got.date_joined.tzinfo is not None
        assert got._state.adding is False and got._state.db == "default"
        if expected.area_id:
            assert User.area.is_cached(got) and _fields(got.area) == _fields(expected.area)
    assert get(world.worker_a.pk).unread_count == 1
    assert get(10**12) is None


def test_the_sql_is_built_once_then_only_run(world, compiled, django_assert_num_queries):
    prepared = Prepared()

    def get(pk):
        return prepared.get(
            "user", lambda pk: User.objects.select_related("area").filter(pk=pk), pk
        )

    get(world.worker_a.pk)
    assert compiled == [User]
    with django_assert_num_queries(2):
        assert get(world.worker_b.pk) == world.worker_b
        assert get(world.worker_a.pk) == world.worker_a
    assert compiled == [User]


def test_a_query_that_does_not_use_its_value_is_refused(db):
    with pytest.raises(ValueError):
        Prepared().get("all", lambda pk: User.objects.all(), 1)
    # A text the lookup rewrites (here into a LIKE pattern) is not found in the SQL.
    with pytest.raises(ValueError):
        Prepared().list("within", lambda name: User.objects.filter(username__contains=name), "a")
    with pytest.raises(TypeError):
        Prepared().get("number", lambda x: User.objects.filter(pk=x), 1.5)
    with pytest.raises(TypeError):
        Prepared().get("flag", lambda x: User.objects.filter(is_active=x), True)


def test_texts_are_values_too(world, compiled):
    prepared = Prepared()

    def by_name(name):
        return prepared.get("name", lambda n: User.objects.filter(username=n), name)

    assert by_name(world.worker_a.username) == world.worker_a
    compiled.clear()
    assert by_name(world.worker_b.username) == world.worker_b
    assert by_name("nobody") is None
    # Not taken for SQL: quotes and the placeholder's own shape are plain values.
    assert by_name("x' OR '1'='1") is None
    assert by_name("\x1fprepared-0\x1f") is None
    names = [world.worker_a.username, world.admin.username]
    got = prepared.list(
        "two", lambda a, b: User.objects.filter(username__in=[a, b]).order_by("username"), *names
    )
    assert [u.username for u in got] == sorted(names)
    assert compiled == [User]  # only the IN list's query was built


def test_numbers_no_database_holds_go_to_the_orm(world, compiled):
    """A number typed into an address can be too big for any integer column: the ORM
    knows what each lookup makes of it; the prepared SQL would fail."""
    prepared = Prepared()
    huge = 10**30
    assert prepared.get("pk", lambda pk: User.objects.filter(pk=pk), huge) is None
    below = prepared.list("below", lambda pk: User.objects.filter(pk__lt=pk), huge)
    assert len(below) == User.objects.count()
    assert prepared.get("pk", lambda pk: User.objects.filter(pk=pk), -huge) is None
    assert prepared.get("pk", lambda pk: User.objects.filter(pk=pk), world.admin.pk) == world.admin


def test_times_and_several_values_and_rows_in_order(world):
    """A keyset page: a time and an id, each used twice, many rows; keys kept apart,
    the oldest dropped past the size."""
    users = list(User.objects.order_by("-date_joined", "-pk"))
    middle = users[len(users) // 2]
    prepared = Prepared(size=2)

    def older(at, pk):
        return (
            User.objects.filter(Q(date_joined__lt=at) | Q(date_joined=at, pk__lt=pk))
            .order_by("-date_joined", "-pk")
            .only("username", "date_joined")
        )

    expected = list(older(middle.date_joined, middle.pk))
    got = prepared.list("older", older, middle.date_joined, middle.pk)
    assert [u.pk for u in got] == [u.pk for u in expected] and got
    assert got[0].get_deferred_fields() == expected[0].get_deferred_fields()
    assert prepared.list("older", older, users[-1].date_joined, users[-1].pk) == []
    everyone = prepared.list("newer", lambda pk: User.objects.filter(pk__gt=pk).order_by("pk"), 0)
    assert len(everyone) == len(users)
    prepared.list("third", lambda pk: User.objects.filter(pk=pk), 1)
    assert list(prepared._compiled) == ["newer", "third"]


def test_the_user_of_every_request_is_read_without_building_its_query(world, compiled):
    backend = AccountBackend()
    assert backend.get_user(world.worker_a.pk) == world.worker_a
    compiled.clear()
    user = backend.get_user(world.worker_b.pk)
    assert user == world.worker_b and user.area == world.worker_b.area
    assert compiled == []


def test_a_text_is_a_prefix_of_startswith_escaped_as_the_orm_escapes_it(world):
    """The community's staff are found by the path prefix of their area."""
    from tongxin.accounts.models import UserRole
    from tongxin.testing import make_user

    prepared = Prepared()

    def starting(prefix):
        return {
            u.username
            for u in prepared.list(
                "start", lambda p: User.objects.filter(username__startswith=p).order_by(), prefix
            )
        }

    make_user("50%_off", UserRole.COMMUNITY_WORKER, world.community_a, "百分")
    make_user("50xyoff", UserRole.COMMUNITY_WORKER, world.community_a, "叉")
    assert starting("worker_") == {"worker_a", "worker_b"}
    assert starting("worker_a") == {"worker_a"}
    # % and _ are the text itself, as the ORM's startswith takes them.
    assert starting("50%_") == {"50%_off"}
    assert starting("50%") == {"50%_off"} and starting("nobody") == set()
    assert starting("50%") == {u.username for u in User.objects.filter(username__startswith="50%")}


def _demands(world):
    from tongxin.demands.testing import submit

    first = submit(world.household_a1, reporter=world.resident_a1)
    second = submit(world.household_b1, title="路灯不亮")
    Demand.objects.filter(pk=second.pk).update(handler=world.worker_b)
    return first, second


def test_instances_are_made_as_from_db_makes_them_deferred_columns_and_all(world):
    """Rows become instances without Django's __init__ (core.prepared._maker): the same
    columns, the deferred ones still deferred, the related rows (or None) cached, the
    rollup's memory of the loaded columns, and the instance saves as the ORM's does."""
    _demands(world)
    demands = (
        Demand.objects.select_related("handler", "reporter", "area")
        .only(
            "title", "created_at", "community", "handler__full_name", "reporter__name", "area__path"
        )
        .order_by("pk")
    )
    got = Prepared().list("page", lambda: demands)
    expected = list(demands)
    assert [d.pk for d in got] == [d.pk for d in expected] and len(got) == 2
    for g, e in zip(got, expected, strict=True):
        assert _fields(g) == _fields(e)
        assert g.get_deferred_fields() == e.get_deferred_fields() and "description" in (
            g.get_deferred_fields()
        )
        assert g._state.adding is False and g._state.db == "default"
        assert g._rollup_loaded == e._rollup_loaded and "created_at" in g._rollup_loaded
        for name in ("handler", "reporter", "area"):
            field = Demand._meta.get_field(name)
            assert field.is_cached(g)
            related, wanted = getattr(g, name), getattr(e, name)
            assert (related is None) == (wanted is None)
            if related is not None:
                assert _fields(related) == _fields(wanted)
                assert related.get_deferred_fields() == wanted.get_deferred_fields()
    # A deferred column is read when asked for; a change saves.
    first = got[0]
    assert first.description == "3单元楼道堆满纸箱，影响通行。"
    first.title = "楼道杂物已清理"
    first.save(update_fields=["title"])
    assert Demand.objects.get(pk=first.pk).title == "楼道杂物已清理"


def test_a_listener_to_post_init_is_still_told(world):
    """While anyone listens to post_init for the model, its instances are made by
    from_db (which sends it) — checked on every query, not once when it is built."""
    _demands(world)
    prepared = Prepared()

    def build():
        return Demand.objects.only("title").order_by("pk")

    prepared.list("titles", build)  # built with nobody listening
    told = []

    def listener(sender, instance, **kwargs):
        told.append(instance.title)

    signals.post_init.connect(listener, sender=Demand)
    try:
        got = prepared.list("titles", build)
    finally:
        signals.post_init.disconnect(listener, sender=Demand)
    assert told == [d.title for d in got] == ["楼道堆放杂物", "路灯不亮"]


def test_a_file_column_is_set_through_its_descriptor(world, tmp_path, settings):
    """A model with a column its own descriptor sets (a file) is made by from_db."""
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path
    first, _second = _demands(world)
    attachment = Attachment(demand=first, original_name="a.jpg")
    attachment.file.save("a.jpg", ContentFile(b"x"), save=True)
    got = Prepared().get("one", lambda pk: Attachment.objects.filter(pk=pk), attachment.pk)
    assert got.file.name == attachment.file.name and got.file.instance is got
    assert _fields(got).keys() == _fields(Attachment.objects.get(pk=attachment.pk)).keys()
