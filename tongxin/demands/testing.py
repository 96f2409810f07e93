"""Helpers for demand tests: categories exist (seeded by migration)."""

from __future__ import annotations

import re

from django.db import connection

from tongxin.demands import actions
from tongxin.demands.models import Category, Channel


def ensure_categories() -> None:
    """The seeded categories, again: a transactional test flushes what migrations made."""
    from tongxin.demands.categories import seed_categories

    seed_categories(Category)


def category(code: str = "environment") -> Category:
    if not Category.objects.filter(code=code).exists():
        ensure_categories()
    return Category.objects.get(code=code)


def submit(area, *, title="楼道堆放杂物", channel=Channel.WEB, now=None, token=None, **kw):
    demand, _created = actions.submit_demand(
        area=area,
        category=kw.pop("category", None) or category(),
        title=title,
        description=kw.pop("description", "3单元楼道堆满纸箱，影响通行。"),
        channel=channel,
        submission_token=token,
        now=now,
        **kw,
    )
    return demand


def written_in_transaction(captured) -> list[str]:
    """The tables written in the one write transaction among ``captured`` (a
    CaptureQueriesContext; in a test the transaction is a savepoint), which must read
    nothing: on SQLite it holds the database's one write lock."""
    sqls = [q["sql"] for q in captured.captured_queries]
    start = next(i for i, sql in enumerate(sqls) if sql.startswith("SAVEPOINT"))
    end = next(i for i, sql in enumerate(sqls) if sql.startswith("RELEASE SAVEPOINT"))
    inside = sqls[start + 1 : end]
    if connection.vendor == "postgresql":
        # One statement: each INSERT a WITH query of the next (prepared.insert_together).
        assert len(inside) == 1 and inside[0].startswith("WITH r0 AS (INSERT INTO "), inside
    else:
        assert all(sql.startswith("INSERT INTO ") for sql in inside), inside
    return [t for sql in inside for t in re.findall(r'INSERT INTO "?(\w+)"?', sql)]


def post_export(client, params: dict | None = None, **kwargs):
    """The ledger's 导出 Excel button: a POST, the filter in the query string."""
    from urllib.parse import urlencode

    from django.urls import reverse

    url = reverse("demands:ledger_export")
    query = urlencode(params or {}, doseq=True)
    return client.post(f"{url}?{query}" if query else url, **kwargs)
