"""The dashboard: who may see it, and every figure on it against a recount."""

from __future__ import annotations

from html import escape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.accounts.scope import scope_for
from tongxin.dashboards.tests.story import NOW, at, march, new, recount
from tongxin.demands.models import Demand

URL = reverse("dashboards:dashboard")


@pytest.fixture
def story(world):
    return march(world)


def get(client, user, url=URL, **params):
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        return client.get(url, params)


def shown(figures) -> dict:
    return {
        "collected": figures.collected,
        "due": figures.assessed + figures.postponed,
        "resolved": figures.resolved,
        "resolved_on_time": figures.resolved_on_time,
        "visits": figures.visits,
        "visits_good": figures.visits_satisfied + figures.visits_basically,
        "rework": figures.rework,
    }


@pytest.mark.parametrize("name", ["cadre_a", "street_office", "district_office", "admin"])
def test_it_shows_to_staff_with_an_area(client, world, name):
    assert get(client, getattr(world, name)).status_code == 200


@pytest.mark.parametrize("name", ["party_member_a", "resident_user_a"])
def test_it_refuses_others(client, world, name):
    assert get(client, getattr(world, name)).status_code == 403


def test_it_needs_sign_in(client, db):
    assert client.get(URL).status_code == 302


def test_it_refuses_a_malformed_month(client, world):
    assert get(client, world.street_office, month="2026-13").status_code == 400


def test_it_equals_a_recount_from_the_ledger(client, world, story):
    response = get(client, world.street_office, month="2026-03")
    head = response.context["head"]
    everything = Demand.objects.within(world.street)
    expected = recount(everything)
    assert shown(head.figures) == expected
    assert expected == {
        "collected": 4,
        "due": 3,  # a1 resolved in time; a2 reopened and b1 past their deadlines
        "resolved": 1,
        "resolved_on_time": 1,
        "visits": 2,
        "visits_good": 1,
        "rework": 1,
    }
    assert head.mean_days == 2.0  # a1: 2 March 9:00 to 4 March 9:00
    html = response.content.decode()
    assert str(head.figures.resolution_rate) == "33.33%"
    for text in ("33.33%", "50.00%", "100.00%", "2.0 天"):
        assert text in html
    for row in response.context["rows"]:
        mine = everything.within(row.community)
        assert shown(row.headline.figures) == recount(mine)
    by_community = {
        r.community.name: r.headline.figures.collected for r in response.context["rows"]
    }
    assert by_community == {"仁和社区": 3, "宏丰社区": 1}


def test_it_drills_down_to_the_rows_behind_each_count(client, world, story):
    response = get(client, world.street_office, month="2026-03")
    ctx = response.context
    checks = [(ctx["ledger_month"], ctx["head"].figures.collected)]
    checks += [(r.url, r.headline.figures.collected) for r in ctx["rows"]]
    for key in ("by_category", "by_channel", "by_tier"):
        checks += [(url, share.count) for share, url in ctx[key]]
    with time_machine.travel(NOW, tick=False):
        red = Demand.objects.within(world.street).overdue(NOW).count()
        yellow = Demand.objects.within(world.street).warning(NOW).count()
        assert [n for _light, n, _url in ctx["lights"]] == [red, yellow]
        checks += [(url, n) for _light, n, url in ctx["lights"]]
        for url, count in checks:
            assert escape(url) in response.content.decode()
            ledger = client.get(url)
            assert ledger.status_code == 200
            figures = client.get(
                url.replace(reverse("demands:ledger"), reverse("demands:ledger_figures"), 1)
            )
            assert figures.context["figures"].collected == count, url
    assert red == 2  # a2 (reopened, new deadline passed) and b1


def test_the_rates_drill_down_to_the_demands_due_in_the_month(client, world, story):
    response = get(client, world.street_office, month="2026-03")
    ctx = response.context
    links = [(ctx["ledger_due"], ctx["ledger_resolved"], ctx["head"].figures)]
    links += [(r.due, r.resolved, r.headline.figures) for r in ctx["rows"]]
    html = response.content.decode()
    with time_machine.travel(NOW, tick=False):
        for due_url, resolved_url, shown_figures in links:
            assert escape(due_url) in html and escape(resolved_url) in html
            due = client.get(
                due_url.replace(reverse("demands:ledger"), reverse("demands:ledger_figures"), 1)
            )
            due = due.context["figures"]
            # The ledger of the month's due demands shows the dashboard's rates…
            assert str(due.resolution_rate) == str(shown_figures.resolution_rate), due_url
            assert str(due.on_time_rate) == str(shown_figures.on_time_rate), due_url
            assert due.collected == shown_figures.due  # …listing exactly those rows
            resolved = client.get(
                resolved_url.replace(
                    reverse("demands:ledger"), reverse("demands:ledger_figures"), 1
                )
            ).context["figures"]
            assert resolved.collected == shown_figures.resolved, resolved_url
    assert ctx["head"].figures.due == 3


def test_it_counts_my_work(client, world, story):
    response = get(client, world.worker_a, month="2026-03")
    work = {section.key: n for section, n, _url in response.context["work"]}
    mine = scope_for(world.worker_a).demands(world.worker_a)
    assert work["overdue"] == mine.overdue(NOW).count() == 1
    assert work["dispatch"] == 1  # a3, not yet dispatched
    assert f"{reverse('demands:work')}?tab=overdue" in response.content.decode()


def test_it_keeps_to_the_scope(client, world, story):
    response = get(client, world.worker_a, month="2026-03")
    assert [r.community for r in response.context["rows"]] == [world.community_a]
    assert response.context["head"].figures.collected == 3
    assert "宏丰社区" not in response.content.decode()


def test_it_defaults_to_this_month(client, world, story):
    response = get(client, world.street_office)
    assert response.context["month"].isoformat() == "2026-03-01"


def test_it_runs_a_fixed_number_of_queries(client, world, story):
    client.force_login(world.street_office)

    def count() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as q:
            assert client.get(URL, {"month": "2026-03"}).status_code == 200
        return len(q)

    before = count()
    for day in range(6, 16):
        new(world, at(day), at(day + 3), area=world.household_b1)
        new(world, at(day), at(day + 3))
    assert count() == before
    assert before <= 40, before
