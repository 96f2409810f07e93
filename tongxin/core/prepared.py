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

:func:`insert` does the same for a new row: ``insert(obj)`` is ``obj.save()`` of a new
object with the INSERT's SQL written once per model, the values prepared for the
database field by field as the ORM prepares them, the signals sent when anyone listens.
An intake writes three rows (the demand, its event, its job); building their INSERTs
cost it more than SQLite took to write them.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import nullcontext
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Model, QuerySet, signals
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import get_related_populators
from django.db.models.sql.subqueries import InsertQuery

# The values a query is first built with, to be found among the SQL's parameters and
# replaced by the real ones: numbers and times no real row has. A field's preparation
# leaves an integer as it is and writes a time as the database takes it.
_INT = -7_318_004_221_906_500
_TIME = dt.datetime(1901, 2, 3, 4, 5, 6, 0, tzinfo=dt.UTC)
_TEXT = "\x1fprepared-{}\x1f"


def _placeholder(value: Any, i: int) -> Any:
    if isinstance(value, bool):
        raise TypeError("a true/false value cannot be told apart from others; key it")
    if isinstance(value, int):
        return _INT - i
    if isinstance(value, dt.datetime):
        return _TIME + dt.timedelta(microseconds=i + 1)
    if isinstance(value, str):
        # Found where the query passes it on as it is (an exact match, an IN list) or
        # as the pattern of ``startswith``; a lookup that rewrites it otherwise
        # (contains, iexact) is refused when built.
        return _TEXT.format(i)
    raise TypeError(f"values of type {type(value).__name__} cannot be prepared")


def _out_of_range(values: tuple) -> bool:
    """A number no database integer holds (typed into an address, say): the ORM knows
    what each lookup makes of it (no row for ``=``, every row for ``<``), the prepared
    SQL would only fail. Such a call goes to the ORM."""
    return any(type(v) is int and not -(2**63) <= v < 2**63 for v in values)


class Prepared:
    """``Prepared().get(key, build, value…)``: what ``build(value…)`` finds, with the SQL
    built once per key. ``build`` takes placeholders for the values (ints,
    times or texts) and returns a queryset using each of them; :meth:`get` gives its one
    object or None, :meth:`list` its objects. At most ``size`` keys are kept."""

    def __init__(self, size: int = 1):
        self.size = size
        self._compiled: OrderedDict[Hashable, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[..., QuerySet], *values: Any) -> Any:
        if _out_of_range(values):
            objects = list(build(*values)[:2])
        else:
            objects = self._compiled_for(key, build, values).run(values, limit=2)
        if len(objects) > 1:
            raise objects[0].MultipleObjectsReturned
        return objects[0] if objects else None

    def list(self, key: Hashable, build: Callable[..., QuerySet], *values: Any) -> list:
        if _out_of_range(values):
            return list(build(*values))
        return self._compiled_for(key, build, values).run(values)

    def statement(
        self, key: Hashable, build: Callable[..., QuerySet], *values: Any
    ) -> tuple[str, list, Callable[[list], list]]:
        """What :meth:`list` would run, to be run inside a larger statement: its SQL,
        its parameters, and what makes the rows (each holding its columns alone, in
        the SQL's order) its objects. Values out of range are refused."""
        if _out_of_range(values):
            raise ValueError("a value no database integer holds")
        compiled = self._compiled_for(key, build, values)
        return compiled.sql, compiled.bind(values), compiled.objects

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
        # Per value: how the database takes it, where it goes, and where it goes as
        # the LIKE pattern of a ``startswith`` (escaped as the lookup escapes it).
        self.kinds = []
        self.like = connection.ops.prep_for_like_query
        for placeholder in placeholders:
            if isinstance(placeholder, dt.datetime):
                adapt = connection.ops.adapt_datetimefield_value
            elif isinstance(placeholder, str):
                adapt = str
            else:
                adapt = int
            written = adapt(placeholder)
            at = [i for i, p in enumerate(params) if type(p) is type(written) and p == written]
            prefix = []
            if isinstance(written, str):
                pattern = self.like(written) + "%"
                prefix = [i for i, p in enumerate(params) if type(p) is str and p == pattern]
            if not at and not prefix:
                raise ValueError("the query does not use one of its values")
            self.kinds.append((adapt, at, prefix))
        # As django.db.models.query.ModelIterable reads a row (Django 5.2).
        klass_info, select = compiler.klass_info, compiler.select
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [s[0].target.attname for s in select[self.start : self.end]]
        self.model = klass_info["model"]
        self.make = _maker(self.model, using, self.init_list)
        self.populators = [
            _Populator(p, using) for p in get_related_populators(klass_info, select, using)
        ]
        self.annotations = dict(compiler.annotation_col_map or {})
        self.compiler, self.sql, self.params, self.using = compiler, sql, list(params), using
        # As SQLCompiler.results_iter converts the rows, with the converters found once.
        columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("composite primary keys are not prepared")
        self.converters = compiler.get_converters(columns)

    def bind(self, values) -> list:
        params = list(self.params)
        for value, (adapt, at, prefix) in zip(values, self.kinds, strict=True):
            written = adapt(value)
            for i in at:
                params[i] = written
            for i in prefix:
                params[i] = self.like(written) + "%"
        return params

    def run(self, values, limit: int | None = None) -> list:
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, self.bind(values))
            rows = cursor.fetchmany(limit) if limit else cursor.fetchall()
        return self.objects(rows)

    def objects(self, rows: list) -> list:
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        objects = []
        make, start, end = self.make, self.start, self.end
        for row in rows:
            obj = make(row[start:end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _maker(model: type[Model], using: str, names: list[str]) -> Callable[[tuple], Model]:
    """``model.from_db(using, names, values)`` as a function of the values: an instance
    loaded from the database with the columns ``names`` (the others deferred).

    Django's ``Model.__init__`` walks every field of the model, sets each through its
    descriptor and sends ``pre_init`` and ``post_init``; for a row just read that is the
    same as putting the values in the instance's ``__dict__``, four times faster — a
    ledger page makes 130 instances. Only where that is the same: the model keeps
    Django's ``__init__`` and ``from_db`` (or names what its own adds
    ``remember_loaded``, as Demand), no column is set through a descriptor of its own
    (a file field's), and nobody listens to ``pre_init`` or ``post_init`` for it when
    the query runs (checked per query); else ``from_db`` itself."""
    hook = getattr(model, "remember_loaded", None)
    own_from_db = model.from_db.__func__ is not Model.from_db.__func__
    descriptors = (getattr(model, name, None) for name in names)
    if (
        model.__init__ is not Model.__init__
        or (own_from_db and hook is None)
        or any(
            hasattr(type(d), "__set__") and not isinstance(d, ForeignKeyDeferredAttribute)
            for d in descriptors
        )
    ):
        return functools.partial(model.from_db, using, names)
    new = object.__new__
    names = tuple(names)

    def make(values) -> Model:
        if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
            return model.from_db(using, names, values)
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = using
        d = obj.__dict__
        d["_state"] = state
        d.update(zip(names, values, strict=True))
        if hook is not None:
            hook(obj, names, values)
        return obj

    return make


class _Populator:
    """Django's ``RelatedPopulator`` (a ``select_related`` object of each row), making
    its instances as :func:`_maker` does."""

    def __init__(self, populator, using: str):
        self.populator = populator
        self.make = _maker(populator.model_cls, using, populator.init_list)
        self.related = [_Populator(p, using) for p in populator.related_populators]

    def populate(self, row, from_obj) -> None:
        p = self.populator
        data = p.reorder_for_init(row) if p.reorder_for_init else row[p.cols_start : p.cols_end]
        if data[p.pk_idx] is None:
            obj = None
        else:
            obj = self.make(data)
            for related in self.related:
                related.populate(row, obj)
        p.local_setter(from_obj, obj)
        if obj is not None:
            p.remote_setter(obj, from_obj)


# --- new rows ------------------------------------------------------------------------------
_INSERTS: dict[tuple[type[Model], str, bool], _Insert] = {}


def insert(obj: Model, using: str | None = None) -> Model:
    """Save the new ``obj`` as ``obj.save()`` would (a single-table model, never saved):
    its field defaults and ``pre_save`` (auto_now and the like), the related objects'
    keys checked, the returned primary key set on it, ``pre_save``/``post_save`` sent
    when anyone listens. The INSERT's SQL is written once per model. Values that are
    expressions are refused: they need the ORM's query."""
    using = using or router.db_for_write(type(obj), instance=obj)
    row = _Row(obj, using, None)  # a refused value leaves the transaction as it was
    with transaction.mark_for_rollback_on_error(using):
        row.sql.run(obj, row.params)
    row.saved()
    return obj


def insert_together(first: Model, *others: Model, using: str | None = None) -> None:
    """Save new rows together, all or none: ``first``, then each of ``others``, whose
    foreign keys to ``first`` get its new primary key — each row as :func:`insert`
    writes it, every value prepared before anything is written.

    On PostgreSQL the rows are one statement (each INSERT a ``WITH`` of the next, a key
    to ``first`` read from the first's ``RETURNING``): outside a transaction it commits
    on its own, one round trip to the server instead of a BEGIN, an INSERT per row and
    a COMMIT. Elsewhere they are one transaction of INSERTs, which on SQLite holds the
    write lock for the writing alone. Inside a transaction it is a savepoint, so a
    failed row (a unique key already there) leaves the transaction usable."""
    model = type(first)
    using = using or router.db_for_write(model, instance=first)
    connection = connections[using]
    rows = [_Row(first, using, None)] + [_Row(obj, using, first) for obj in others]
    if connection.vendor == "postgresql":
        key = (using, *(row.key for row in rows))
        statement = _TOGETHER.get(key)
        if statement is None:
            statement = _TOGETHER[key] = _together(rows)
        params = [p for row in rows for p in row.params_in_statement()]
        # One statement commits alone: atomic() would cost a BEGIN and a COMMIT.
        atomic = transaction.atomic(using) if connection.in_atomic_block else nullcontext()
        with atomic, connection.cursor() as cursor:
            cursor.execute(statement, params)
            returned = cursor.fetchone() if any(row.sql.returning for row in rows) else ()
        at = 0
        for row in rows:
            width = len(row.sql.returning)
            row.sql.set_returned(row.obj, returned[at : at + width])
            at += width
            row.set_parent_key()
    else:
        with transaction.atomic(using):
            for row in rows:
                row.set_parent_key()
                row.sql.run(row.obj, row.params_with_parent_key())
    for row in rows:
        row.saved()


_TOGETHER: dict[tuple, str] = {}


class _Row:
    """A new row of :func:`insert` or :func:`insert_together`: its INSERT and its
    values, prepared (``parent``: the new row its keys to which are filled in later)."""

    def __init__(self, obj: Model, using: str, parent: Model | None):
        model = type(obj)
        meta = model._meta
        if meta.parents or meta.proxy or not obj._state.adding:
            raise ValueError(f"a new row of a plain model is written, not {obj!r}")
        # The keys to ``parent`` are filled in when it is written.
        self.to_parent = [
            f
            for f in meta.concrete_fields
            if parent is not None
            and f.is_relation
            and f.is_cached(obj)
            and f.get_cached_value(obj) is parent
        ]
        if parent is not None and parent.pk is not None and self.to_parent:
            raise ValueError("the first row is new: its key comes from the database")
        if not self.to_parent:
            obj._prepare_related_fields_for_save(operation_name="save")
        elif others := [
            f for f in meta.concrete_fields if f.is_relation and f not in self.to_parent
        ]:
            obj._prepare_related_fields_for_save(operation_name="save", fields=others)
        if signals.pre_save.has_listeners(model):
            signals.pre_save.send(
                sender=model, instance=obj, raw=False, using=using, update_fields=None
            )
        if not obj._is_pk_set(meta):
            setattr(obj, meta.pk.attname, meta.pk.get_pk_value_on_save(obj))
        pk_set = obj._is_pk_set(meta)
        sql_key = (model, using, pk_set)
        self.sql = _INSERTS.get(sql_key)
        if self.sql is None:
            self.sql = _INSERTS[sql_key] = _Insert(model, using, pk_set)
        self.slots = tuple(self.sql.fields.index(f) for f in self.to_parent)
        self.obj, self.parent, self.using = obj, parent, using
        self.params = self.sql.params(obj)
        # Written NULL in the one statement of PostgreSQL rather than passed: psycopg
        # keeps the parsed form of a statement of at most 50 parameters, and three
        # rows have more.
        self.nulls = tuple(
            i for i in range(len(self.sql.fields)) if self.params[i] is None and i not in self.slots
        )
        self.key = (model, pk_set, self.slots, self.nulls)

    def params_in_statement(self) -> list:
        return [p for i, p in enumerate(self.params) if i not in self.slots and i not in self.nulls]

    def params_with_parent_key(self) -> list:
        params = list(self.params)
        for i in self.slots:
            params[i] = self.parent.pk
        return params

    def set_parent_key(self) -> None:
        for field in self.to_parent:
            setattr(self.obj, field.attname, self.parent.pk)  # which forgets the parent…
            field.set_cached_value(self.obj, self.parent)  # …that is this one

    def saved(self) -> None:
        model = type(self.obj)
        self.obj._state.db = self.using
        self.obj._state.adding = False
        if signals.post_save.has_listeners(model):
            signals.post_save.send(
                sender=model,
                instance=self.obj,
                created=True,
                update_fields=None,
                raw=False,
                using=self.using,
            )


def _together(rows: list[_Row]) -> str:
    """PostgreSQL: the rows' INSERTs as one statement. Each is a ``WITH`` query
    returning what its model returns; a key to the first row is its ``RETURNING``'s
    first column. The statement's one row is every returned column, in row order."""
    names = [f"r{i}" for i in range(len(rows))]
    first = names[0]
    key_column = rows[0].sql.returning[0].column if rows[0].sql.returning else None
    parts = []
    for name, row in zip(names, rows, strict=True):
        sql = row.sql.sql
        if row.slots and key_column is None:
            raise ValueError("the first row returns no key for the others")
        head, values = sql.split(" VALUES (", 1)
        values, tail = values.split(")", 1)
        marks = values.split(", ")
        for i in row.slots:
            marks[i] = f'(SELECT "{key_column}" FROM {first})'
        for i in row.nulls:
            marks[i] = "NULL"
        sql = f"{head} VALUES ({', '.join(marks)}){tail}"
        parts.append(f"{name} AS ({sql})")
    selected = [f"{name}.*" for name, row in zip(names, rows, strict=True) if row.sql.returning]
    joined = ", ".join(name for name, row in zip(names, rows, strict=True) if row.sql.returning)
    tail = f"SELECT {', '.join(selected)} FROM {joined}" if selected else "SELECT 1"
    return f"WITH {', '.join(parts)} {tail}"


class _Insert:
    """One model's INSERT … RETURNING, as ``SQLInsertCompiler`` writes it for one row."""

    def __init__(self, model: type[Model], using: str, pk_set: bool):
        connection = connections[using]
        meta = model._meta
        self.fields = [
            f
            for f in meta.local_concrete_fields
            if not f.generated and (pk_set or f is not meta.auto_field)
        ]
        if any(getattr(f, "get_placeholder", None) for f in self.fields):
            raise ValueError(f"{model.__name__} has a field with a placeholder of its own")
        self.compiler = InsertQuery(model).get_compiler(using=using)
        qn = connection.ops.quote_name
        sql = (
            f"{connection.ops.insert_statement(on_conflict=None)} {qn(meta.db_table)} "
            f"({', '.join(qn(f.column) for f in self.fields)}) "
            f"VALUES ({', '.join(['%s'] * len(self.fields))})"
        )
        self.returning = meta.db_returning_fields
        self.returning_params: tuple = ()
        self.last_id = False
        if self.returning and connection.features.can_return_columns_from_insert:
            r_sql, self.returning_params = connection.ops.return_insert_columns(self.returning)
            if r_sql:
                sql = f"{sql} {r_sql}"
        elif self.returning:
            # A backend without RETURNING: the auto field alone, from the cursor.
            self.returning = self.returning[:1]
            self.last_id = True
        cols = [f.get_col(meta.db_table) for f in self.returning]
        self.converters = self.compiler.get_converters(cols)
        self.sql, self.using, self.table = sql, using, meta.db_table

    def params(self, obj: Model) -> list:
        connection = connections[self.using]
        params = []
        for field in self.fields:
            value = field.pre_save(obj, True)
            if hasattr(value, "resolve_expression"):
                raise TypeError(f"{field.name}: an expression needs the ORM's save()")
            params.append(field.get_db_prep_save(value, connection=connection))
        params.extend(self.returning_params)
        return params

    def run(self, obj: Model, params: list) -> None:
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            if not self.returning:
                return
            if self.last_id:
                field = self.returning[0]
                row = (connection.ops.last_insert_id(cursor, self.table, field.column),)
            else:
                row = connection.ops.fetch_returned_insert_columns(cursor, self.returning_params)
        self.set_returned(obj, row)

    def set_returned(self, obj: Model, row) -> None:
        if not self.returning:
            return
        if self.converters:
            row = next(iter(self.compiler.apply_converters([row], self.converters)))
        for value, field in zip(row, self.returning, strict=True):
            setattr(obj, field.attname, value)
