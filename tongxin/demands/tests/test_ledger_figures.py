"""The ledger's figures, served apart from the list (/demands/ledger/figures/): equal to
metrics.figures over the rows the ledger lists, the same scope and form errors as the
ledger, cached per user, scope and filter; and the list itself without them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.accounts.scope import scope_for
from tongxin.demands import actions, metrics
from tongxin.demands.ledger import LedgerFilter
from tongxin.demands.models import Channel, Demand, Satisfaction, State
from tongxin.demands.testing import category, submit
from tongxin.testing import clear_caches

SH = ZoneInfo("Asia/Shanghai")
LEDGER = "demands:ledger"
FIGURES = "demands:ledger_figures"
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=SH)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def demands(world) -> dict[str, Demand]:
    """Demands in both communities in several states; one of B's handled by worker_a."""
    made = {}
    for i, (key, where) in enumerate(
        [
            ("a1", world.household_a1),
            ("a2", world.household_a2),
            ("a_comm", world.community_a),
            ("b1", world.household_b1),
            ("b2", world.household_b1),
        ]
    ):
        made[key] = submit(
            where,
            title=f"诉求{key}",
            now=dt.datetime(2026, 3, 2 + i, 9, tzinfo=SH),
            channel=Channel.HOTLINE if key in ("a2", "b2") else Channel.WEB,
        )
    a1 = made["a1"]
    actions.dispatch_demand(a1, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(
        a1, by=world.grid_worker_a, answer="已处理。", now=a1.created_at + dt.timedelta(hours=3)
    )
    actions.record_return_visit(a1, by=world.worker_a, satisfaction=Satisfaction.SATISFIED)
    actions.dispatch_demand(made["a2"], by=world.worker_a, to_user=world.grid_worker_a)
    # A demand of B handled by A's community worker: in worker_a's scope as well.
    actions.dispatch_demand(made["b2"], by=world.worker_b, to_user=world.worker_a)
    return made


def get(client, name=FIGURES, **params):
    with time_machine.travel(NOW, tick=False):
        return client.get(reverse(name), params)


def listed_pks(client, **params) -> set[int]:
    """Every row the ledger lists for the filter, following its pages."""
    pks, cursor = set(), None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        page = get(client, LEDGER, **params, **extra).context["page"]
        pks |= {d.pk for d in page.rows}
        if not page.next:
            return pks
        cursor = page.next


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"state": State.RESOLVED},
        {"channel": Channel.HOTLINE},
        {"date_from": "2026-03-03", "date_to": "2026-03-05"},
        {"due_to": "2026-03-31", "outcome": "resolved"},
        {"light": "red"},
        {"q": "诉求a"},
    ],
)
@pytest.mark.parametrize("who", ["street_office", "worker_a", "grid_worker_a", "admin"])
def test_the_figures_are_metrics_figures_of_the_rows_listed(client, world, demands, who, params):
    user = world.users()[who]
    client.force_login(user)
    r = get(client, **params)
    assert r.status_code == 200
    rows = listed_pks(client, **params)
    with time_machine.travel(NOW, tick=False):
        expected = metrics.figures(Demand.objects.filter(pk__in=rows), now=NOW)
    assert r.context["figures"] == expected
    assert r.context["figures"].collected == len(rows)


def test_outside_the_scope_is_never_counted(client, world, demands):
    client.force_login(world.worker_a)
    f = get(client).context["figures"]
    # A's three, and B's b2 that worker_a handles; never b1.
    assert f.collected == 4
    mine = scope_for(world.worker_a).demands(world.worker_a)
    assert set(mine.values_list("pk", flat=True)) == {
        demands[k].pk for k in ("a1", "a2", "a_comm", "b2")
    }
    # An area of B is a form error, as on the ledger: the figures stay within the scope.
    r = get(client, area=world.community_b.pk)
    assert "area" in r.context["form"].errors
    assert r.context["figures"].collected == 4


@pytest.mark.parametrize("who", ["party_member_a", "resident_user_a"])
def test_party_members_and_residents_get_what_the_ledger_gives_them(client, world, demands, who):
    client.force_login(world.users()[who])
    assert get(client, LEDGER).status_code == 403
    assert get(client).status_code == 403


def test_strangers_are_sent_to_sign_in(client, world):
    r = client.get(reverse(FIGURES))
    assert r.status_code == 302 and "/login" in r["Location"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "date_to"),
        ({"due_from": "2026-13-01"}, "due_from"),
        ({"outcome": "finished"}, "outcome"),
        ({"state": "nonsense", "channel": Channel.HOTLINE}, "state"),
        ({"handler": "999999"}, "handler"),
    ],
)
def test_bad_conditions_are_the_ledgers_form_errors(client, world, demands, params, field):
    client.force_login(world.street_office)
    page, figures = get(client, LEDGER, **params), get(client, **params)
    assert figures.status_code == page.status_code == 200
    assert field in figures.context["form"].errors
    assert figures.context["form"].errors == page.context["form"].errors
    body = figures.content.decode()
    assert 'id="ledger-filter-errors"' in body
    # The rest of the filter still counts, as the ledger lists it.
    assert figures.context["figures"].collected == len(listed_pks(client, **params))


def test_it_is_cached_for_the_same_user_scope_and_filter(client, world, demands):
    client.force_login(world.worker_a)
    assert get(client, channel=Channel.HOTLINE).context["figures"].collected == 2
    submit(world.household_a1, title="新来的", channel=Channel.HOTLINE, now=NOW - HOUR)
    # Within the minute: the same figures, however the query string spells the filter.
    assert get(client, channel=Channel.HOTLINE).context["figures"].collected == 2
    again = get(client, channel=Channel.HOTLINE, cursor="whatever", q="")
    assert again.context["figures"].collected == 2
    # Another filter is another entry; and a minute later the figures are counted again.
    assert get(client, channel=Channel.HOTLINE, q="新来").context["figures"].collected == 1
    with time_machine.travel(NOW + dt.timedelta(seconds=61), tick=False):
        later = client.get(reverse(FIGURES), {"channel": Channel.HOTLINE})
    assert later.context["figures"].collected == 3


def test_two_scopes_never_share_an_entry(client, world, demands):
    client.force_login(world.worker_a)
    assert get(client).context["figures"].collected == 4
    client.force_login(world.worker_b)
    assert get(client).context["figures"].collected == 2
    client.force_login(world.street_office)
    assert get(client).context["figures"].collected == 5
    # The same user moved to another area: their scope changed, so did the key.
    world.worker_a.area = world.community_b
    world.worker_a.save()
    client.force_login(world.worker_a)
    assert get(client).context["figures"].collected == 2  # B's two (b2 also handled)


def test_the_page_links_to_its_figures_and_counts_nothing(client, world, demands):
    client.force_login(world.street_office)
    clear_caches()
    with CaptureQueriesContext(connection) as ctx:
        r = get(client, LEDGER, channel=Channel.HOTLINE, cursor="x")
    assert "figures" not in r.context
    counted = [
        q["sql"]
        for q in ctx.captured_queries
        if "demands_demand" in q["sql"] and "COUNT(" in q["sql"].upper()
    ]
    assert counted == []
    body = r.content.decode()
    url = f"{reverse(FIGURES)}?channel={Channel.HOTLINE}"
    assert f'hx-get="{url}"' in body and 'hx-trigger="load"' in body
    assert f'href="{url}"' in body and "查看统计" in body  # without JavaScript
    # htmx asks for the figures only; without it, a page of its own that links back.
    part = client.get(reverse(FIGURES), {"channel": Channel.HOTLINE}, HTTP_HX_REQUEST="true")
    assert "<html" not in part.content.decode() and 'id="ledger-figures"' in part.content.decode()
    whole = get(client, channel=Channel.HOTLINE).content.decode()
    assert "<html" in whole and f"{reverse(LEDGER)}?channel={Channel.HOTLINE}" in whole


def test_a_handler_assigned_after_the_list_was_kept_can_still_be_chosen(client, world, demands):
    client.force_login(world.worker_a)
    get(client, LEDGER)  # the list of handlers is now kept
    actions.dispatch_demand(demands["a_comm"], by=world.worker_a, to_user=world.party_member_a)
    r = get(client, LEDGER, handler=world.party_member_a.pk)
    assert not r.context["form"].errors
    assert [row.demand.pk for row in r.context["rows"]] == [demands["a_comm"].pk]


def test_the_filter_key_is_canonical(world):
    a = LedgerFilter(category=category("environment"), date_from=dt.date(2026, 3, 1))
    b = LedgerFilter(date_from=dt.date(2026, 3, 1), category=category("environment"))
    assert a.key() == b.key() != LedgerFilter().key()


@pytest.mark.parametrize(
    "who", ["admin", "district_office", "street_office", "worker_a", "worker_b", "grid_worker_a"]
)
def test_an_area_scope_by_community_is_the_scope_by_path(world, demands, who):
    # Above a grid the scope tests Demand.community; it must be the same rows as the
    # area's path (a demand's community holds its area).
    user = world.users()[who]
    scope = scope_for(user)
    by_scope = set(scope.demands(user).values_list("pk", flat=True))
    if scope.everything:
        by_path = set(Demand.objects.values_list("pk", flat=True))
    else:
        by_path = set(
            Demand.objects.filter(
                Q(area__path__startswith=scope.area.path) | Q(handler=user)
            ).values_list("pk", flat=True)
        )
    assert by_scope == by_path
