"""The signed-in user of each request is read with the area their role covers."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tongxin.accounts.backends import AccountBackend


def test_the_user_of_a_request_comes_with_its_area_in_one_query(world, django_assert_num_queries):
    assert "tongxin.accounts.backends.AccountBackend" in settings.AUTHENTICATION_BACKENDS
    with django_assert_num_queries(1):
        user = AccountBackend().get_user(world.worker_a.pk)
        assert user.area == world.community_a
        assert user.area.name == world.community_a.name


def test_an_inactive_or_unknown_user_is_nobody(world):
    world.worker_a.is_active = False
    world.worker_a.save()
    assert AccountBackend().get_user(world.worker_a.pk) is None
    assert AccountBackend().get_user(10**9) is None


def test_a_page_reads_the_user_and_area_together(client, world):
    client.force_login(world.worker_a)
    client.get("/demands/ledger/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/demands/ledger/").status_code == 200
    area_reads = [q for q in queries if 'FROM "areas_area" WHERE "areas_area"."id" =' in q["sql"]]
    assert area_reads == []
