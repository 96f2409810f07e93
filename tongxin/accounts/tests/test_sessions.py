"""The session of each request is read with one written-out query, and behaves as
Django's database sessions do: expired or unknown keys are nobody, signing out ends it."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from tongxin.accounts.sessions import SessionStore


def _signed_in(client, user) -> str:
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_session_is_read_without_building_a_query(client, world):
    assert settings.SESSION_ENGINE == "tongxin.accounts.sessions"
    key = _signed_in(client, world.worker_a)
    with mock.patch.object(SQLCompiler, "as_sql", side_effect=AssertionError("built")):
        data = SessionStore(key).load()
    assert data["_auth_user_id"] == str(world.worker_a.pk)


def test_an_expired_or_unknown_session_is_empty_and_gets_a_new_key(client, world):
    key = _signed_in(client, world.worker_a)
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + dt.timedelta(minutes=1))
    assert SessionStore(key).load()  # a minute left: still valid
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
    # The page: an expired session is signed out.
    response = client.get("/demands/ledger/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_pages_follow_the_session_through_sign_in_and_sign_out(client, world):
    key = _signed_in(client, world.worker_a)
    assert client.get("/demands/ledger/").status_code == 200
    client.post("/logout/")
    assert not Session.objects.filter(pk=key).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = key  # the old cookie, replayed
    response = client.get("/demands/ledger/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
