"""Lookups of our own."""

from __future__ import annotations

from django.db.models import IntegerField, Lookup


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
