"""Lookups of our own."""

from __future__ import annotations

import re

from django.db.models import CharField, IntegerField, Lookup


@IntegerField.register_lookup
class Constant(Lookup):
    """``field__constant=30``: equality with the integer written into the SQL rather
    than sent as a parameter.

    For a value that is part of what a query *is* rather than what it asks for — the
    community level in a scope's subquery. PostgreSQL keeps one plan for a prepared
    statement (a generic plan) only when it costs no more than planning afresh; with
    the level a parameter it must guess how many areas share it (one level's share of
    the tree, tens of thousands of rows), so it plans every run again, about a
    millisecond for the ledger's query. With the level in the SQL it reads its statistics (60 communities) and
    keeps the plan. Only an ``int`` is accepted, so nothing else can reach the SQL."""

    lookup_name = "constant"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        if not isinstance(self.rhs, int) or isinstance(self.rhs, bool):
            raise TypeError(f"__constant takes an int, not {self.rhs!r}")
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = {int(self.rhs)}", params


_CHOICE_VALUE = re.compile(r"[a-z0-9_]+")


@CharField.register_lookup
class ConstantIn(Lookup):
    """``field__constant_in=("visited", "rated")``: ``IN`` with the values written into
    the SQL rather than sent as parameters.

    For a fixed set of choice values that a partial index is defined by. A planner uses
    a partial index only when it can see that the query asks for nothing outside it:
    SQLite compares the query's terms with the index's ``WHERE``, which it cannot do
    for bound parameters, and PostgreSQL cannot either in a prepared statement's generic
    plan. Only short lowercase choice values (``[a-z0-9_]+``) are accepted, so nothing
    else can reach the SQL; they are written in the order given, which must be the
    index's order for SQLite to recognise its term."""

    lookup_name = "constant_in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        values = list(self.rhs) if isinstance(self.rhs, (list, tuple)) else []
        if not values or not all(isinstance(v, str) and _CHOICE_VALUE.fullmatch(v) for v in values):
            raise TypeError(f"__constant_in takes choice values, not {self.rhs!r}")
        lhs, params = self.process_lhs(compiler, connection)
        quoted = ", ".join(f"'{v}'" for v in map(str, values))
        return f"{lhs} IN ({quoted})", params


@IntegerField.register_lookup
class ConstantIntegersIn(Lookup):
    """``field__constant_in=(30, 40, 50)``: ``IN`` with the whole numbers written into the
    SQL rather than sent as parameters — the levels of a list of places, say.

    For the same reason as :class:`Constant`: with the levels as parameters, the generic
    plan of PostgreSQL's prepared statement guessed how many areas of a subtree have
    them, took them for two, and read a district's 117,000 areas along the path index
    (30 ms) instead of the few hundred along the index of level and path (0.1 ms). Only
    ``int`` values are accepted, so nothing else can reach the SQL."""

    lookup_name = "constant_in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        values = list(self.rhs) if isinstance(self.rhs, (list, tuple)) else []
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise TypeError(f"__constant_in takes whole numbers, not {self.rhs!r}")
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} IN ({', '.join(str(int(v)) for v in values)})", params


@CharField.register_lookup
class Common(Lookup):
    """``field__common=value``: equality with a value that most rows have — the state
    every demand ends in (已回访). PostgreSQL knows that from its statistics. SQLite keeps
    no count per value: it took a district's 已回访 for a few hundred rows, fetched all
    950,000 of them by the index of community and state and sorted them for the ledger's
    first page (2.1 s), where walking the ledger's own index finds 31 at once (3 ms).
    SQLite is told (``likelihood``: true for most rows), so it uses no index for it; the
    other databases get a plain ``=``."""

    lookup_name = "common"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "sqlite":
            return f"likelihood({lhs} = {rhs}, 0.9375)", [*lhs_params, *rhs_params]
        return f"{lhs} = {rhs}", [*lhs_params, *rhs_params]
