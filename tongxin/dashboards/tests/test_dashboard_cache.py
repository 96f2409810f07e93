"""The dashboard drawn once and kept: a second view reads two primary keys and the cache,
any change to a demand shows on the next view, each scope, month and language has its
own, and what only time changes is recounted within a minute."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.dashboards.tests.story import NOW, at, march, new
from tongxin.dashboards.views import DASHBOARD_SECONDS
from tongxin.demands import actions
from tongxin.demands.views_ledger import FIGURES_SECONDS

URL = reverse("dashboards:dashboard")


@pytest.fixture
def story(world):
    return march(world)


def view(client, when=NOW, **params):
    with time_machine.travel(when, tick=False), CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200
    return response, len(queries)


def body(response) -> str:
    """The page without what each response draws afresh (the CSRF token)."""
    html = response.content.decode()
    html = re.sub(r'X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def figure(response, name: str) -> int:
    """The count shown on the button or card marked data-figure=name."""
    html = response.content.decode()
    at_ = html.index(f'data-figure="{name}"')
    return int(re.search(r"(\d+)</span>", html[at_:])[1])


def test_a_second_view_reads_the_drawn_figures(client, world, story):
    client.force_login(world.street_office)
    first, counted = view(client)
    again, read = view(client)
    assert body(again) == body(first)
    assert read <= 8 < counted, (read, counted)


def test_the_users_own_change_shows_at_once(client, world, story):
    client.force_login(world.worker_a)
    before, _ = view(client)
    assert figure(before, "work-dispatch") == 1  # a3
    with time_machine.travel(NOW, tick=False):
        actions.dispatch_demand(story["a3"], by=world.worker_a, to_user=world.grid_worker_a)
    after, _ = view(client)
    assert figure(after, "work-dispatch") == 0


def test_each_scope_month_and_language_has_its_own(client, world, story, english):
    client.force_login(world.street_office)
    street, _ = view(client)
    assert "宏丰社区" in street.content.decode()
    client.force_login(world.worker_a)
    community, _ = view(client)
    assert "宏丰社区" not in community.content.decode()
    february, _ = view(client, month="2026-02")
    assert 'data-figure="collected"><div class="card-body p-2">' in february.content.decode()
    assert february.context["month"] == dt.date(2026, 2, 1)
    assert body(february) != body(community)
    client.cookies[english] = "en"
    translated, _ = view(client)
    assert (
        "My work" in translated.content.decode() and "我的工作" not in translated.content.decode()
    )


def test_what_only_time_changes_is_recounted_within_a_minute(client, world, story):
    # Due half a minute after NOW: yellow or nothing at NOW, red a minute later, with no
    # change to any demand in between.
    new(world, at(20), NOW + dt.timedelta(seconds=30))
    client.force_login(world.worker_a)
    first, _ = view(client)
    red = figure(first, "light-red")
    soon, _ = view(client, NOW + dt.timedelta(seconds=40))
    assert figure(soon, "light-red") == red  # still the figures drawn at NOW
    later, _ = view(client, NOW + dt.timedelta(seconds=DASHBOARD_SECONDS + 1))
    assert figure(later, "light-red") == red + 1
    # No staler than the ledger's figures (docs/dashboards.md says so).
    assert DASHBOARD_SECONDS <= FIGURES_SECONDS
