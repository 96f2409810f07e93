"""keyed_page: a page's keys first, then its rows — the same page as one query gives."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from tongxin.core.paging import keyed_page, keyed_slice
from tongxin.demands.models import Demand
from tongxin.demands.testing import submit


@pytest.fixture
def demands(world):
    households = [world.household_a1, world.household_a2, world.household_b1]
    return [submit(households[i % 3], title=f"诉求{i}") for i in range(7)]


@pytest.mark.parametrize("number", [1, 2, 3, "4", "x", None])
def test_it_gives_the_page_one_query_gives(demands, number):
    rows = Demand.objects.select_related("community", "category").order_by("community", "-id")
    plain = Paginator(rows, 3).get_page(number)
    keyed = keyed_page(rows, number, 3)
    assert keyed.number == plain.number and keyed.paginator.num_pages == 3
    assert [d.pk for d in keyed] == [d.pk for d in plain] and len(keyed) == len(plain)
    with CaptureQueriesContext(connection) as ctx:  # each row with what it joins
        assert [(d.community.name, d.category.name) for d in keyed] == [
            (d.community.name, d.category.name) for d in plain
        ]
    assert not ctx.captured_queries


def test_it_takes_a_count_already_made(demands):
    rows = Demand.objects.order_by("pk")
    with CaptureQueriesContext(connection) as ctx:
        page = keyed_page(rows, 2, 3, count=7)
    assert len(ctx.captured_queries) == 2  # the keys and the rows, no COUNT
    assert [d.pk for d in page] == [d.pk for d in demands[3:6]]
    assert page.has_next() and page.paginator.num_pages == 3


def test_a_row_that_leaves_the_list_between_the_reads_is_left_out(demands):
    gone = demands[1].pk

    class Leaving(QuerySet):
        def filter(self, *args, **kwargs):
            if "pk__in" in kwargs:  # the second read: meanwhile, the row left the list
                Demand.objects.filter(pk=gone).update(title="已改")
            return super().filter(*args, **kwargs)

    rows = Leaving(Demand).filter(title__startswith="诉求").order_by("pk")
    page = keyed_page(rows, 1, 3)
    assert [d.pk for d in page] == [demands[0].pk, demands[2].pk]
    assert page.paginator.count == 7  # as counted by the first read


def test_an_empty_list_is_one_empty_page(db):
    page = keyed_page(Demand.objects.order_by("pk"), 1, 3)
    assert list(page) == [] and page.paginator.num_pages == 1


@pytest.mark.parametrize(("start", "stop"), [(0, 3), (2, 5), (5, 9), (7, 9)])
def test_a_keyed_slice_is_the_slice(demands, start, stop):
    rows = Demand.objects.select_related("community").order_by("-community", "pk")
    assert [d.pk for d in keyed_slice(rows, start, stop)] == [d.pk for d in rows[start:stop]]
