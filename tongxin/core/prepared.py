"""Queries the ORM builds once and then runs again and again with other values.

Building a query's SQL costs the ORM from a few tenths of a millisecond to well over one
— more than PostgreSQL takes to run a query by primary key or down an index. For the
queries of every request (the signed-in user) and of the pages opened most (a demand by
its number, the ledger's pages) that was a fifth of the page. :class:`Prepared` keeps
the SQL the ORM built, per key, and runs it with the new values; the rows
become model instances the way the ORM's own iterable makes them, with the same
converters, related objects, deferred columns and annotations.

The key is the caller's promise: two calls with equal keys build the same query except
for the values passed separately. Everything else the query depends on (a user's area,
their id) belongs in the key.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# The values a query is first built with, to be found among the SQL's parameters and
# replaced by the real ones: numbers and times no real row has. A field's preparation
# leaves an integer as it is and writes a time as the database takes it.
_INT = -7_318_004_221_906_500
_TIME = dt.datetime(1901, 2, 3, 4, 5, 6, 0, tzinfo=dt.UTC)


def _placeholder(value: Any, i: int) -> Any:
    if isinstance(value, bool):
        raise TypeError("a true/false value cannot be told apart from others; key it")
    if isinstance(value, int):
        return _INT - i
    if isinstance(value, dt.datetime):
        return _TIME + dt.timedelta(microseconds=i + 1)
    raise TypeError(f"values of type {type(value).__name__} cannot be prepared")


class Prepared:
    """``Prepared().get(key, build, value…)``: what ``build(value…)`` finds, with the SQL
    built once per key. ``build`` takes placeholders for the values (ints
    or times) and returns a queryset using each of them; :meth:`get` gives its one
    object or None, :meth:`list` its objects. At most ``size`` keys are kept."""

    def __init__(self, size: int = 1):
        self.size = size
        self._compiled: OrderedDict[Hashable, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[..., QuerySet], *values: Any) -> Any:
        objects = self._compiled_for(key, build, values).run(values, limit=2)
        if len(objects) > 1:
            raise objects[0].MultipleObjectsReturned
        return objects[0] if objects else None

    def list(self, key: Hashable, build: Callable[..., QuerySet], *values: Any) -> list:
        return self._compiled_for(key, build, values).run(values)

    def _compiled_for(self, key, build, values) -> _Compiled:
        with self._lock:
            compiled = self._compiled.get(key)
            if compiled is not None:
                self._compiled.move_to_end(key)
                return compiled
        # Built outside the lock: two threads may both build a new key, and one of the
        # equal results is kept.
        placeholders = [_placeholder(v, i) for i, v in enumerate(values)]
        queryset = build(*placeholders)
        # Tongxin has one database: the query runs where the ORM reads its model.
        compiled = _Compiled(queryset, router.db_for_read(queryset.model), placeholders)
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > self.size:
                self._compiled.popitem(last=False)
        return compiled


class _Compiled:
    def __init__(self, queryset: QuerySet, using: str, placeholders: list):
        connection = connections[using]
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        self.kinds = []  # per value: how the database takes it, and where it goes
        for placeholder in placeholders:
            if isinstance(placeholder, dt.datetime):
                adapt = connection.ops.adapt_datetimefield_value
            else:
                adapt = int
            written = adapt(placeholder)
            at = [i for i, p in enumerate(params) if type(p) is type(written) and p == written]
            if not at:
                raise ValueError("the query does not use one of its values")
            self.kinds.append((adapt, at))
        # As django.db.models.query.ModelIterable reads a row (Django 5.2).
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [s[0].target.attname for s in select[self.start : self.end]]
        self.model = klass_info["model"]
        self.populators = get_related_populators(klass_info, select, using)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.compiler, self.sql, self.params, self.using = compiler, sql, list(params), using

    def run(self, values, limit: int | None = None) -> list:
        params = list(self.params)
        for value, (adapt, at) in zip(values, self.kinds, strict=True):
            written = adapt(value)
            for i in at:
                params[i] = written
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchmany(limit) if limit else cursor.fetchall()
        objects = []
        for row in self.compiler.results_iter([rows]):
            obj = self.model.from_db(self.using, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects
