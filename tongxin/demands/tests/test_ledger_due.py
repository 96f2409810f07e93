"""The ledger's rows behind the rates: filtering by when demands fell due (应结案,
``due_from``/``due_to``) and how they stand now (``outcome``), against metrics.figures,
on the page, in the export and across pages."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from tongxin.accounts.scope import scope_for
from tongxin.audit.models import AuditEntry
from tongxin.demands import actions, ledger, metrics
from tongxin.demands.metrics import Period
from tongxin.demands.models import Demand, State
from tongxin.demands.testing import post_export, submit
from tongxin.testing import clear_caches

SH = ZoneInfo("Asia/Shanghai")
LEDGER = "demands:ledger"
FIGURES = "demands:ledger_figures"
EXPORT = "demands:ledger_export"
NOW = dt.datetime(2026, 4, 10, 12, 0, tzinfo=SH)
MARCH = {"due_from": "2026-03-01", "due_to": "2026-03-31"}
APRIL = {"due_from": "2026-04-01", "due_to": "2026-04-30"}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=SH)


def new(world, key: str, created: dt.datetime, deadline: dt.datetime) -> Demand:
    d = submit(world.household_a1, title=key, now=created)
    Demand.objects.filter(pk=d.pk).update(deadline=deadline, first_deadline=deadline)
    d.refresh_from_db()
    return d


def dispatch(world, d: Demand, when: dt.datetime) -> None:
    with time_machine.travel(when, tick=False):
        actions.dispatch_demand(d, by=world.worker_a, to_user=world.grid_worker_a)


def resolve(world, d: Demand, when: dt.datetime) -> None:
    actions.resolve_demand(
        Demand.objects.get(pk=d.pk), by=world.grid_worker_a, answer="已处理。", now=when
    )


@pytest.fixture
def story(world) -> dict[str, Demand]:
    """Demands in community A around March 2026, looked at on 10 April (NOW)."""
    d = {}
    # Resolved in time on 4 March: due then, resolved on time.
    d["on_time"] = new(world, "on_time", at(3, 2), at(3, 5, 17, 30))
    dispatch(world, d["on_time"], at(3, 2, 10))
    resolve(world, d["on_time"], at(3, 4))
    # Collected in February, due at its deadline on 3 March, resolved late on 10 March.
    d["late"] = new(world, "late", at(2, 26), at(3, 3, 17, 30))
    dispatch(world, d["late"], at(2, 26, 10))
    resolve(world, d["late"], at(3, 10))
    # Still open, its deadline (19 March) long past.
    d["open"] = new(world, "open", at(3, 16), at(3, 19, 17, 30))
    dispatch(world, d["open"], at(3, 16, 10))
    # Postponed (缓办), then resolved late: still 缓办, never 结案.
    d["postponed"] = new(world, "postponed", at(3, 23), at(3, 26, 17, 30))
    dispatch(world, d["postponed"], at(3, 23, 10))
    with time_machine.travel(at(3, 24), tick=False):
        actions.postpone_demand(d["postponed"], by=world.worker_a, reason="待汛期后施工")
    resolve(world, d["postponed"], at(3, 30))
    # Due in April (deadline 3 April passed), still open.
    d["next"] = new(world, "next", at(3, 28), at(4, 3, 17, 30))
    # Never due: merged, and withdrawn, both with March deadlines.
    d["merged"] = new(world, "merged", at(3, 3), at(3, 6, 17, 30))
    with time_machine.travel(at(3, 3, 10), tick=False):
        actions.merge_demand(d["merged"], into=d["open"], by=world.worker_a)
    d["withdrawn"] = new(world, "withdrawn", at(3, 6), at(3, 9, 17, 30))
    with time_machine.travel(at(3, 6, 12), tick=False):
        actions.withdraw_demand(d["withdrawn"])
    # Not due anywhere yet: its deadline is ahead.
    d["ahead"] = new(world, "ahead", at(4, 8), at(4, 14, 17, 30))
    return d


def get(client, url_name=LEDGER, **params):
    with time_machine.travel(NOW, tick=False):
        return client.get(reverse(url_name), params)


def listed(client, **params) -> set[str]:
    r = get(client, **params)
    assert r.status_code == 200
    assert not r.context["form"].errors, r.context["form"].errors
    return {row.demand.title for row in r.context["rows"]}


MARCH_DUE = {"on_time", "late", "open", "postponed"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (MARCH, MARCH_DUE),
        ({**MARCH, "outcome": "resolved"}, {"on_time", "late"}),
        ({**MARCH, "outcome": "on_time"}, {"on_time"}),
        ({**MARCH, "outcome": "postponed"}, {"postponed"}),
        ({**MARCH, "outcome": "unresolved"}, {"open"}),
        (APRIL, {"next"}),
        ({**APRIL, "outcome": "unresolved"}, {"next"}),
        ({**APRIL, "outcome": "resolved"}, set()),
        ({"due_from": "2026-03-01"}, MARCH_DUE | {"next"}),
        ({"due_to": "2026-03-31"}, MARCH_DUE),
        ({"due_to": "2026-03-03"}, {"late"}),  # its deadline, 3 March 17:30
        ({"due_from": "2026-03-04", "due_to": "2026-03-04"}, {"on_time"}),  # resolved 4 March
        ({"outcome": "resolved"}, {"on_time", "late"}),  # due at any time up to now
        ({"outcome": "unresolved"}, {"open", "next"}),
        ({"outcome": "postponed"}, {"postponed"}),
        # With the other filters: AND.
        ({**MARCH, "date_from": "2026-03-01"}, MARCH_DUE - {"late"}),  # late came in February
        ({**MARCH, "state": State.RESOLVED}, {"on_time", "late", "postponed"}),
        ({**MARCH, "outcome": "resolved", "q": "late"}, {"late"}),
    ],
)
def test_it_lists_the_demands_due_in_the_days_by_outcome(client, world, story, params, expected):
    client.force_login(world.worker_a)
    assert listed(client, **params) == expected


def test_the_rows_are_the_counts_of_the_figures(client, world, story):
    client.force_login(world.street_office)
    everything = scope_for(world.street_office).demands(world.street_office)
    for month, params in ((3, MARCH), (4, APRIL)):
        f = metrics.figures(everything, Period.month(2026, month), now=NOW)
        rows = {o: listed(client, **params, outcome=o) for o in ledger.Outcome.values}
        assert len(listed(client, **params)) == f.due
        assert len(rows["resolved"]) == f.resolved
        assert len(rows["on_time"]) == f.resolved_on_time
        assert len(rows["postponed"]) == f.postponed
        # 结案, 缓办 and 未结案 split the due demands; 结案率's denominator is the rest.
        assert len(rows["resolved"]) + len(rows["unresolved"]) == f.assessed
        assert rows["resolved"] | rows["unresolved"] | rows["postponed"] == listed(client, **params)
        # The ledger's own figures for the due set are the month's.
        shown = get(client, FIGURES, **params).context["figures"]
        assert (shown.due, shown.postponed, shown.resolved, shown.resolved_on_time) == (
            f.due,
            f.postponed,
            f.resolved,
            f.resolved_on_time,
        )
        assert shown.resolution_rate == f.resolution_rate
        assert shown.on_time_rate == f.on_time_rate
        assert shown.collected == f.due  # every listed demand, whenever collected
    march = metrics.figures(everything, Period.month(2026, 3), now=NOW)
    assert (march.due, march.postponed, march.resolved, march.resolved_on_time) == (4, 1, 2, 1)
    assert str(march.resolution_rate) == "66.67%"


def test_it_shows_the_conditions_in_chinese(client, world, story):
    client.force_login(world.worker_a)
    r = get(client, **MARCH, outcome="on_time")
    body = r.content.decode()
    assert "应结案起始日期：2026-03-01" in body and "应结案截止日期：2026-03-31" in body
    assert "结案情况：按期结案" in body
    assert r.context["form"].has_more  # the folded filters open to show them
    assert '<option value="on_time" selected>按期结案</option>' in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"due_from": "2026-13-01"}, "due_from"),
        ({"due_from": "yesterday", "due_to": "2026-03-31"}, "due_from"),
        ({"due_to": "2026-02-30"}, "due_to"),
        ({"due_from": "2026-03-31", "due_to": "2026-03-01"}, "due_to"),
        ({"outcome": "finished"}, "outcome"),
    ],
)
def test_it_shows_a_malformed_condition_as_a_form_error(client, world, story, params, field):
    client.force_login(world.worker_a)
    r = get(client, **params)
    assert r.status_code == 200
    assert field in r.context["form"].errors
    body = r.content.decode()
    assert 'id="ledger-filter-errors"' in body
    label = str(r.context["form"].fields[field].label)
    assert f"{label}：" in body
    # Export refuses, as for any filter in error, and points back to the page.
    with time_machine.travel(NOW, tick=False):
        r = post_export(client, params)
    assert r.status_code == 302 and r["Location"].startswith(reverse(LEDGER))


def test_a_bad_due_date_leaves_the_other_conditions_working(client, world, story):
    client.force_login(world.worker_a)
    r = get(client, due_from="2026-3-99", due_to="2026-03-03")
    assert "due_from" in r.context["form"].errors
    assert {row.demand.title for row in r.context["rows"]} == {"late"}


def export(client, **params) -> list[tuple]:
    with time_machine.travel(NOW, tick=False):
        r = post_export(client, params)
    assert r.status_code == 200 and r["Content-Type"] == ledger.XLSX
    return list(load_workbook(io.BytesIO(b"".join(r.streaming_content))).active.values)[1:]


@pytest.mark.parametrize("outcome", ["", "resolved", "on_time", "postponed", "unresolved"])
def test_the_export_has_the_same_rows(client, world, story, outcome):
    client.force_login(world.worker_a)
    page = get(client, **MARCH, outcome=outcome).context["rows"]
    numbers = [row[0] for row in export(client, **MARCH, outcome=outcome)]
    assert numbers == [row.demand.number for row in page]
    assert numbers  # every outcome has a row in March


def test_the_export_audit_names_the_conditions(client, world, story):
    client.force_login(world.worker_a)
    export(client, **MARCH, outcome="resolved")
    detail = AuditEntry.objects.get().detail
    assert "应结案起始日期=2026-03-01" in detail and "应结案截止日期=2026-03-31" in detail
    assert "结案情况=结案" in detail and "共 2 行" in detail


def overdue_in_march(world, n: int, start: int = 0) -> list[Demand]:
    """``n`` open demands collected on 1 April whose deadlines passed in March (as if set
    back by hand), some sharing a second, so ties need the id."""
    made = []
    for i in range(start, start + n):
        d = submit(
            world.household_a1, title=f"超期{i:03d}", now=at(4, 1) + dt.timedelta(minutes=i // 3)
        )
        made.append(d)
    Demand.objects.filter(pk__in=[d.pk for d in made]).update(deadline=at(3, 20, 17, 30))
    return made


def test_it_pages_by_keyset_with_the_due_filter(client, world, story):
    made = overdue_in_march(world, 40)
    expected = [d.title for d in sorted(made, key=lambda d: (d.created_at, d.pk), reverse=True)] + [
        "open"
    ]  # collected 16 March, the oldest
    client.force_login(world.worker_a)
    params = {**MARCH, "outcome": "unresolved"}
    r1 = get(client, **params)
    p1 = r1.context["page"]
    assert [d.title for d in p1.rows] == expected[:30] and p1.next
    assert get(client, FIGURES, **params).context["figures"].collected == 41
    body = r1.content.decode()
    assert "due_from=2026-03-01" in body and "outcome=unresolved" in body  # the pager's links
    p2 = get(client, **params, cursor=p1.next).context["page"]
    assert [d.title for d in p2.rows] == expected[30:] and not p2.next
    back = get(client, **params, cursor=p2.previous).context["page"]
    assert [d.title for d in back.rows] == expected[:30] and back.is_first


def count_queries(client, **params) -> int:
    clear_caches()  # the uncached page: the handler list read afresh
    with CaptureQueriesContext(connection) as ctx:
        assert get(client, **params).status_code == 200
    return len(ctx.captured_queries)


def test_it_needs_the_same_queries_for_few_or_many_rows(
    client, world, story, django_assert_max_num_queries
):
    client.force_login(world.worker_a)
    params = {**MARCH, "outcome": "unresolved"}
    few = count_queries(client, **params)
    for d in overdue_in_march(world, 55)[:10]:
        actions.add_note(d, by=world.worker_a, text="已联系", public=True)
    assert len(get(client, **params).context["rows"]) == 30
    many = count_queries(client, **params)
    assert many == few
    with django_assert_max_num_queries(few):
        get(client, **{**params, "due_from": "2026-03-02"})
