"""The administrators' key pages: issue (shown once), list, revoke; audited."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tongxin.api.models import ApiToken, hash_key
from tongxin.audit.models import AuditEntry


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "who",
    ["district_office", "street_office", "worker_a", "grid_worker_a", "cadre_a", "resident_user_a"],
)
def test_it_lets_only_administrators_in(world, who):
    client = client_for(world.users()[who])
    assert client.get("/api/tokens/").status_code == 403
    assert client.get("/api/tokens/new/").status_code == 403
    assert client.post("/api/tokens/new/", {"name": "x", "kind": "personal"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_it_sends_strangers_to_sign_in(db):
    assert Client().get("/api/tokens/").status_code == 302


def test_it_issues_a_key_shown_once_and_keeps_only_its_hash(world):
    client = client_for(world.admin)
    response = client.post(
        "/api/tokens/new/",
        {"name": "12345热线", "kind": "integration", "user": world.street_office.pk},
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = re.search(r'id="api-key">([^<]+)<', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(key) and token.created_by == world.admin
    assert key not in client.get("/api/tokens/").content.decode()
    entry = AuditEntry.objects.get()
    assert (entry.user, entry.target) == (world.admin, f"api.apitoken:{token.pk}")
    # And the key works, as the street office.
    assert Client().get("/api/v1/areas", HTTP_X_API_KEY=key).status_code == 200


def test_it_revokes_only_with_confirmation(world):
    token, key = ApiToken.issue(name="小程序", user=world.worker_a)
    client = client_for(world.admin)
    client.post(f"/api/tokens/{token.pk}/revoke/", {})
    token.refresh_from_db()
    assert token.revoked_at is None
    response = client.post(f"/api/tokens/{token.pk}/revoke/", {"confirm": "on"})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(target=f"api.apitoken:{token.pk}").count() == 1
    assert Client().get("/api/v1/areas", HTTP_X_API_KEY=key).status_code == 401


def test_it_lists_tokens_in_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    for n in range(10):
        ApiToken.issue(name=f"k{n}", user=world.worker_a, created_by=world.admin)
    client = client_for(world.admin)
    client.get("/api/tokens/")  # warm the session
    with django_assert_max_num_queries(4):
        response = client.get("/api/tokens/")
    html = response.content.decode()
    assert all(f'<td data-label="名称">k{n}</td>' in html for n in range(10))
