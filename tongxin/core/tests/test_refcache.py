"""The categories and communities a report reads, kept per process for a minute."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from tongxin.areas.models import COMMUNITIES, Area, Level, community_around
from tongxin.core import refcache
from tongxin.demands.forms_intake import ACTIVE_CATEGORIES, _active_category
from tongxin.demands.models import Category, Demand
from tongxin.demands.testing import category

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_caches():
    ACTIVE_CATEGORIES.clear()
    COMMUNITIES.clear()


def _community() -> Area:
    street = Area.add_root(name="和平街道", level=Level.STREET)
    return street.add_child(name="幸福社区", level=Level.COMMUNITY)


def _report(client: Client, community: Area, cat: Category, n: int):
    return client.post(
        reverse("public:report", args=[community.pk]),
        {
            "category": cat.pk,
            "title": "路灯不亮",
            "description": "小区东门路灯坏了。",
            "reporter_name": "赵六",
            "reporter_phone": "13812345678",
            "submission_token": f"refcache-test-token-{n:04d}",
            "website": "",
        },
    )


def test_a_report_as_served_reads_neither_its_community_nor_its_category(
    settings, django_assert_num_queries
):
    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }  # as served
    community, cat = _community(), category("environment")
    client = Client()
    assert _report(client, community, cat, 1).status_code == 302  # the caches filled
    # Outside a transaction, as a request runs: the write alone (PostgreSQL one
    # statement; SQLite BEGIN, three INSERTs, COMMIT).
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 5) as captured:
        assert _report(client, community, cat, 2).status_code == 302
    assert all(
        "INSERT" in q["sql"] or "BEGIN" in q["sql"] or "COMMIT" in q["sql"]
        for q in captured.captured_queries
    ), captured.captured_queries
    assert Demand.objects.count() == 2


def test_a_change_here_is_seen_at_once_one_elsewhere_within_a_minute():
    community, cat = _community(), category("environment")
    assert _active_category(cat.pk).time_limit == cat.time_limit
    cat.is_active = False
    cat.save()  # this process: the cache is emptied
    assert _active_category(cat.pk) is None
    r = _report(Client(), community, cat, 1)
    assert r.status_code == 200 and not Demand.objects.exists()  # refused, the form again
    Category.objects.filter(pk=cat.pk).update(is_active=True)  # as another process would
    assert _active_category(cat.pk) is None  # not yet: read less than a minute ago
    later = time.monotonic() + refcache.CACHE_SECONDS
    with mock.patch.object(refcache.time, "monotonic", return_value=later):
        assert _active_category(cat.pk) is not None
    community.name = "新名字社区"
    community.save()
    assert COMMUNITIES.get(community.pk, lambda pk: None).name == "新名字社区"


def test_inside_a_transaction_the_database_answers(django_assert_num_queries):
    cat = category("environment")
    assert _active_category(cat.pk) is not None  # cached
    with transaction.atomic():
        Category.objects.filter(pk=cat.pk).update(is_active=False)  # no signal
        with django_assert_num_queries(1):
            assert _active_category(cat.pk) is None  # as committed in here: inactive
    # (The cache kept what was committed before.)


def test_each_caller_gets_a_copy():
    cat = category("environment")
    mine = _active_category(cat.pk)
    mine.name = "改过的名字"
    assert _active_category(cat.pk).name == cat.name


def test_the_community_a_place_lies_in(django_assert_num_queries):
    community = _community()
    estate = community.add_child(name="仁和家园", level=Level.ESTATE)
    building = estate.add_child(name="1栋", level=Level.BUILDING)
    street = Area.objects.get(level=Level.STREET)
    assert community_around(building) == community  # the cache filled
    with django_assert_num_queries(0):
        found = community_around(building)
        assert found == community and found is not community_around(estate)  # copies
        assert community_around(community) is community
    assert community_around(street) is None  # above any community
    with transaction.atomic(), django_assert_num_queries(1):
        assert community_around(building) == community  # from the database


def test_an_api_report_as_served_reads_its_community_from_the_cache(
    world, settings, django_assert_num_queries
):
    """A hotline names the community: the API reads it, and the category, from what the
    process keeps; any other area (a household) is read by a query."""
    import json

    from django.utils import timezone

    from tongxin.api.endpoints import ACTIVE_CATEGORIES as API_CATEGORIES
    from tongxin.api.models import ApiToken
    from tongxin.workcal import calendar

    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }  # as served
    API_CATEGORIES.clear()
    category("environment")
    token, key = ApiToken.issue(name="12345", user=world.worker_a)
    token.last_used_at = timezone.now()  # (written at most once a minute)
    token.save()

    def post(area: Area, n: int):
        return Client().post(
            "/api/v1/demands",
            json.dumps(
                {"area": area.pk, "category": "environment", "title": "路灯", "description": "坏了"}
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
            HTTP_IDEMPOTENCY_KEY=f"refcache-{n}",
        )

    assert post(world.community_a, 1).status_code == 201  # the caches filled
    calendar.clear_cache()
    post(world.community_a, 2)  # the working calendar read again
    # The count (one upsert), the key with its user and area (on PostgreSQL in the
    # same statement), then the write alone. On SQLite the count is a transaction of
    # its own (BEGIN IMMEDIATE, the upsert, COMMIT), so that it queues with the writers.
    reads, writes = (1, 1) if connection.vendor == "postgresql" else (4, 5)
    with django_assert_num_queries(reads + writes):
        assert post(world.community_a, 3).status_code == 201
    # A household is no community: one query more, for it.
    with django_assert_num_queries(reads + 1 + writes):
        assert post(world.household_a2, 4).status_code == 201
    demand = Demand.objects.get(area=world.household_a2)
    assert demand.community_id == world.community_a.pk
    assert Demand.objects.filter(area=world.community_a).count() == 3
