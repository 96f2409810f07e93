"""Authentication, the error body, the abuse limits, creating a demand, the docs."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tongxin.api import limits
from tongxin.api.models import ApiToken, RateCount
from tongxin.demands.models import Channel, Demand
from tongxin.demands.testing import ensure_categories, written_in_transaction
from tongxin.workcal import calendar

from .conftest import body


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = body(response)["error"]
    assert error["code"] == code
    assert error["message"] and isinstance(error["details"], list)
    return error


def test_it_requires_a_key(api_world):
    assert_error(Client().get("/api/v1/demands"), 401, "unauthorized")
    assert_error(
        Client().get("/api/v1/demands", HTTP_AUTHORIZATION="Bearer nonsense"), 401, "unauthorized"
    )


def test_it_accepts_the_x_api_key_header(api_world):
    response = Client().get("/api/v1/areas", HTTP_X_API_KEY=api_world.keys["worker_a"])
    assert response.status_code == 200


def test_it_refuses_a_revoked_key(api_world):
    ApiToken.objects.get(user=api_world.world.worker_a).revoke()
    assert_error(api_world.get("worker_a", "/demands"), 401, "unauthorized")


def test_the_count_reads_the_key_and_sees_a_revocation_at_once(api_world):
    """On PostgreSQL the rate limit's count and the key's token are one statement;
    either way nothing is kept: a key revoked (by another process) fails at once."""
    from django.test.utils import CaptureQueriesContext

    token = ApiToken.objects.get(user=api_world.world.worker_a)
    api_world.get("worker_a", "/areas")  # the minute's upkeep, last_used_at written
    with CaptureQueriesContext(connection) as captured:
        assert api_world.get("worker_a", "/areas").status_code == 200
    token_reads = [q for q in captured.captured_queries if '"api_apitoken"' in q["sql"]]
    assert len(token_reads) == 1
    combined = "api_ratecount" in token_reads[0]["sql"]
    assert combined == (connection.vendor == "postgresql")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())  # no signal
    assert_error(api_world.get("worker_a", "/areas"), 401, "unauthorized")
    # Another key in X-Api-Key beside the one counted is read on its own.
    other = api_world.keys["worker_b"]
    response = Client().get(
        "/api/v1/areas",
        HTTP_AUTHORIZATION=f"Bearer {api_world.keys['worker_a']}",
        HTTP_X_API_KEY=other,
    )
    assert response.status_code == 200  # worker_b's key, read by the second scheme


def test_it_refuses_the_key_of_a_deactivated_user(api_world):
    api_world.world.worker_a.is_active = False
    api_world.world.worker_a.save()
    assert_error(api_world.get("worker_a", "/demands"), 401, "unauthorized")


def test_it_answers_errors_in_one_shape(api_world):
    assert_error(api_world.get("worker_a", "/nowhere"), 404, "not_found")
    assert_error(api_world.get("worker_a", "/demands/99999999"), 404, "not_found")
    assert_error(api_world.get("worker_a", "/demands/abc"), 422, "invalid")
    assert_error(api_world.get("worker_a", "/demands?state=lost"), 422, "invalid")
    assert_error(api_world.get("worker_a", "/demands?since=1800-01-01"), 422, "invalid")
    assert_error(api_world.get("party_member_a", "/residents"), 403, "forbidden")
    response = Client().delete(
        "/api/v1/areas", HTTP_AUTHORIZATION=f"Bearer {api_world.keys['worker_a']}"
    )
    assert_error(response, 405, "method_not_allowed")


def test_it_keeps_submitted_values_out_of_validation_errors(api_world):
    response = api_world.post("worker_a", "/demands", {"area": "13800001234"})
    assert "13800001234" not in assert_error(response, 422, "invalid")["details"].__repr__()


# The counts are per clock minute: the rate tests stand still in the middle of one, so
# that a run crossing a minute's end cannot start the count again half-way.
MID_MINUTE = dt.datetime(2026, 11, 25, 9, 0, 30, tzinfo=dt.UTC)


def test_it_limits_the_rate_without_a_key(db, settings):
    settings.TONGXIN_API_RATE_ANONYMOUS = 2
    with time_machine.travel(MID_MINUTE, tick=False):
        for _ in range(2):
            assert Client().get("/api/v1/categories").status_code == 200
        response = Client().get("/api/v1/categories")
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) == 30


def test_it_limits_the_rate_per_key(api_world, settings):
    settings.TONGXIN_API_RATE_KEY = 3
    with time_machine.travel(MID_MINUTE, tick=False):
        for _ in range(3):
            assert api_world.get("worker_a", "/areas").status_code == 200
        assert_error(api_world.get("worker_a", "/areas"), 429, "rate_limited")
        assert api_world.get("worker_b", "/areas").status_code == 200  # another key


def test_it_counts_made_up_keys_against_the_address(db, settings):
    settings.TONGXIN_API_RATE_ANONYMOUS = 2
    with time_machine.travel(MID_MINUTE, tick=False):
        for n in range(2):
            response = Client().get("/api/v1/areas", HTTP_AUTHORIZATION=f"Bearer guess{n}")
            assert response.status_code == 401
        response = Client().get("/api/v1/areas", HTTP_AUTHORIZATION="Bearer guess3")
    assert_error(response, 429, "rate_limited")


def test_an_address_that_made_up_keys_is_refused_with_a_real_one_too(api_world, settings):
    settings.TONGXIN_API_RATE_ANONYMOUS = 2
    with time_machine.travel(MID_MINUTE, tick=False):
        assert api_world.get("worker_a", "/areas").status_code == 200
        for n in range(2):
            response = Client().get("/api/v1/areas", HTTP_AUTHORIZATION=f"Bearer guess{n}")
            assert response.status_code == 401
        assert_error(api_world.get("worker_a", "/areas"), 429, "rate_limited")
    with time_machine.travel(MID_MINUTE + dt.timedelta(minutes=1), tick=False):
        assert api_world.get("worker_a", "/areas").status_code == 200  # a new minute


def test_it_refuses_a_body_over_the_limit(api_world, settings):
    settings.TONGXIN_API_MAX_BODY = 1000
    big = {"title": "x", "description": "楼" * 2000, "area": 1, "category": "environment"}
    assert_error(api_world.post("worker_a", "/demands", big), 413, "payload_too_large")
    assert not Demand.objects.filter(description__startswith="楼楼").exists()


def test_it_refuses_a_body_that_is_not_json(api_world):
    response = Client().post(
        "/api/v1/demands",
        "title=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {api_world.keys['worker_a']}",
    )
    assert_error(response, 415, "unsupported_media_type")


# --- creating a demand ----------------------------------------------------------------
def new_demand(api_world, **kw) -> dict:
    ensure_categories()
    return {
        "area": api_world.world.household_a2.pk,
        "category": "environment",
        "title": "垃圾桶满了",
        "description": "2单元门口的垃圾桶两天没清。",
        "reporter_name": "李淑芬",
        "reporter_phone": "13900005678",
        **kw,
    }


def test_it_takes_in_a_demand(api_world):
    response = api_world.post("worker_a", "/demands", new_demand(api_world))
    assert response.status_code == 201, response.content
    data = body(response)
    demand = Demand.objects.get(pk=data["id"])
    assert demand.channel == Channel.WEB and demand.entered_by == api_world.world.worker_a
    assert data["tracking_code"] == demand.tracking_code
    assert data["reporter"] == "李**" and "13900005678" not in response.content.decode()


def test_it_answers_a_new_demand_as_it_reads_it_back(api_world):
    # Answered from the row just written (no read back): the same as GET shows it.
    response = api_world.post("worker_a", "/demands", new_demand(api_world))
    created = body(response)
    assert created.pop("tracking_code")
    assert created["deadline"] and created["events"][0]["kind"] == "submitted"
    assert created == body(api_world.get("worker_a", f"/demands/{created['id']}"))


def test_it_takes_in_a_demand_in_a_fixed_number_of_queries(
    api_world, settings, django_assert_num_queries
):
    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }  # as served
    token = ApiToken.objects.get(user=api_world.world.worker_a)
    token.last_used_at = timezone.now()  # (written at most once a minute)
    token.save()
    payload = new_demand(api_world)
    calendar.clear_cache()  # (a server process keeps it for a minute)
    with time_machine.travel(timezone.now(), tick=False):
        limits._purge(int(time.time() // limits.WINDOW))  # this minute's cleanup, done
        # The limit: the key's count (one upsert), reading the failed keys of the
        # address; the key and its user with their area (on PostgreSQL in the same
        # statement); the area; the category; the household's community; the working
        # calendar, for the deadline. Then the write transaction,
        # which reads nothing: the demand, its event and the job that tells the
        # dispatchers (on PostgreSQL one statement). The answer is made from what was
        # written: its one event is not read back.
        with django_assert_num_queries(11 if connection.vendor == "sqlite" else 8) as captured:
            response = api_world.post("worker_a", "/demands", payload, HTTP_IDEMPOTENCY_KEY="q")
    assert response.status_code == 201
    assert written_in_transaction(captured) == [
        "demands_demand",
        "demands_demandevent",
        "django_tasks_database_dbtaskresult",
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="UNLOGGED: PostgreSQL")
def test_the_counts_write_no_log_on_postgresql(db):
    """A count need not survive a crash: counting must not wait for the disk."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'api_ratecount'")
        assert cursor.fetchone() == ("u",)


def test_it_counts_a_key_in_the_database_in_one_statement(
    api_world, settings, django_assert_num_queries
):
    # One row per key, shared by every app process; one upsert adds one and answers.
    settings.TONGXIN_API_RATE_KEY = 3
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 0, 10, tzinfo=dt.UTC), tick=False):
        limits._purge(int(time.time() // limits.WINDOW))  # this minute's cleanup, done
        for _ in range(2):
            assert api_world.get("worker_a", "/areas").status_code == 200
        with django_assert_num_queries(1):
            assert limits._hit("key:abc", 10, time.time()) == 0
        (row,) = RateCount.objects.filter(bucket__startswith="key:").exclude(bucket="key:abc")
        assert row.hits == 2
        assert api_world.get("worker_a", "/areas").status_code == 200
        assert_error(api_world.get("worker_a", "/areas"), 429, "rate_limited")
    # A new minute starts the count again; buckets idle for longer are dropped.
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 1, 5, tzinfo=dt.UTC), tick=False):
        assert api_world.get("worker_a", "/areas").status_code == 200
        row.refresh_from_db()
        assert row.hits == 1
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 3, 0, tzinfo=dt.UTC), tick=False):
        assert api_world.get("worker_b", "/areas").status_code == 200
        assert not RateCount.objects.filter(pk=row.pk).exists()


def test_it_takes_in_an_integration_demand_as_hotline_once_per_idempotency_key(api_world):
    _token, key = ApiToken.issue(
        name="12345", user=api_world.world.street_office, kind=ApiToken.Kind.INTEGRATION
    )
    api_world.keys["hotline"] = key
    first = api_world.post("hotline", "/demands", new_demand(api_world), HTTP_IDEMPOTENCY_KEY="c-1")
    again = api_world.post("hotline", "/demands", new_demand(api_world), HTTP_IDEMPOTENCY_KEY="c-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert body(first)["id"] == body(again)["id"]
    assert Demand.objects.get(pk=body(first)["id"]).channel == Channel.HOTLINE
    # The same key from another caller is another request.
    other = api_world.post(
        "worker_a", "/demands", new_demand(api_world), HTTP_IDEMPOTENCY_KEY="c-1"
    )
    assert other.status_code == 201 and body(other)["id"] != body(first)["id"]


@pytest.mark.parametrize(
    ("who", "area", "status"),
    [
        ("worker_b", "household_a2", 404),
        ("grid_worker_a", "community_b", 404),
        ("resident_user_a", "household_a1", 403),
        ("party_member_a", "household_a1", 403),
    ],
)
def test_it_takes_in_demands_only_within_the_scope(api_world, who, area, status):
    area_id = getattr(api_world.world, area).pk
    response = api_world.post(who, "/demands", new_demand(api_world, area=area_id))
    assert response.status_code == status
    assert Demand.objects.count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"category": "nothing"},
        {"reporter_phone": "12"},
        {"title": "   "},
        {"channel": "open311"},
        {"area": None},
        {"title": "a\x00b"},
    ],
)
def test_it_rejects_invalid_demands(api_world, change):
    response = api_world.post("worker_a", "/demands", new_demand(api_world, **change))
    assert_error(response, 422, "invalid")


def test_it_refuses_a_demand_outside_any_community(api_world):
    response = api_world.post(
        "admin", "/demands", new_demand(api_world, area=api_world.world.street.pk)
    )
    assert_error(response, 422, "invalid")


# --- signed-in browsers ----------------------------------------------------------------
def test_it_serves_a_signed_in_browser_but_wants_csrf_for_writes(api_world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(api_world.world.worker_a)
    assert client.get("/api/v1/demands").status_code == 200
    response = client.post(
        "/api/v1/demands", json.dumps(new_demand(api_world)), content_type="application/json"
    )
    assert response.status_code == 403
    assert "error" in body(response)


# --- the document and the reference page ----------------------------------------------------
def test_it_publishes_the_openapi_document(db):
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = body(response)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/demands/{demand_id}" in document["paths"]


def test_it_serves_the_reference_page_from_its_own_static_files(db):
    response = Client().get("/api/v1/docs")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "'unsafe-inline'" not in response.get("Content-Security-Policy", "")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's writer queue")
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_a_count_is_a_write_transaction_of_its_own():
    """So that it queues with the other writers (tongxin.core.sqlite) rather than meet
    them in SQLite's busy handler, which sleeps a millisecond or more."""
    with CaptureQueriesContext(connection) as captured:
        assert limits._hit("key:queued", 10, time.time()) == 0
    sql = [q["sql"] for q in captured.captured_queries]
    assert sql[0] == "BEGIN IMMEDIATE", sql
    assert "api_ratecount" in sql[1], sql
    assert not connection.in_atomic_block
    assert RateCount.objects.get(bucket="key:queued").hits == 1
