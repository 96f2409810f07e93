"""A page of a long list whose rows join other tables."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


def keyed_page(rows: QuerySet, number: object, per_page: int, count: int | None = None) -> Page:
    """Page ``number`` of ``rows`` (ordered, with its ``select_related``), read in two
    steps: the page's keys — the filter and the sort over the key and the sort columns
    alone — then those rows whole, with what they join.

    In one query both databases join every row the filter matches before sorting and
    keeping a page of them: a district's 22,000 demands waiting to be dispatched, each
    with its area, community, category and handler, for 20 (SQLite 55 ms, PostgreSQL,
    misjudging how many the scope leaves, 400 ms). A row that leaves the list between
    the two reads (dispatched meanwhile) is not shown. ``count``, when the caller has
    counted the rows already (a tab's figure), is not counted again."""
    paginator = Paginator(rows.values_list("pk", flat=True), per_page)
    if count is not None:
        paginator.count = count  # Paginator.count is a cached_property
    page = paginator.get_page(number)
    page.object_list = rows_of(rows, list(page.object_list))
    return page


def keyed_slice(rows: QuerySet, start: int, stop: int) -> list:
    """``rows[start:stop]`` read as :func:`keyed_page` reads a page: keys, then rows."""
    return rows_of(rows, list(rows.values_list("pk", flat=True)[start:stop]))


def rows_of(rows: QuerySet, keys: list) -> list:
    """The rows of ``rows`` with these keys, in the keys' order (one gone is left out)."""
    found = {row.pk: row for row in rows.order_by().filter(pk__in=keys)} if keys else {}
    return [found[key] for key in keys if key in found]
