"""Rows of a small table that rarely changes — the active categories, the communities —
kept in each app process for a minute, for the requests that read one on every call
(each report reads its community and its category).

A row is read from the cache only outside a transaction, where the database would
give the row as committed; the cache is filled only there too, so it never holds what
a transaction has not committed yet. A save or delete of the model in this process
empties it at once (as does ``flush``); another process sees the change within
:data:`CACHE_SECONDS`, as it sees a change to the working calendar
(:mod:`tongxin.workcal.calendar`). Each caller gets its own copy of a row."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Hashable

from django.db import connections, router
from django.db.models import Model
from django.db.models.signals import post_delete, post_migrate, post_save

CACHE_SECONDS = 60.0


class ReferenceCache:
    """``ReferenceCache(model, load)``: ``load()`` returns the rows kept, by key;
    :meth:`get` gives a copy of one, or None when it is not among them — or, inside a
    transaction, ``fallback(key)`` (the database's answer)."""

    def __init__(self, model: type[Model], load: Callable[[], dict[Hashable, Model]]):
        self.model, self.load = model, load
        self._rows: dict[Hashable, Model] | None = None
        self._loaded_at = 0.0
        uid = f"refcache-{id(self)}"
        post_save.connect(self._changed, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(self._changed, sender=model, weak=False, dispatch_uid=uid)
        # ``flush`` (transactional tests, a restore) empties tables without signals.
        post_migrate.connect(self._changed, weak=False, dispatch_uid=uid)

    def get(self, key: Hashable, fallback: Callable[[Hashable], Model | None]) -> Model | None:
        rows = self.rows()
        if rows is None:
            return fallback(key)
        row = rows.get(key)
        return copy.copy(row) if row is not None else None

    def find(self, key: Hashable, query: Callable[[Hashable], Model | None]) -> Model | None:
        """A copy of the row kept under ``key``, else ``query(key)``: for a cache that
        keeps only some rows of its table (the communities among all the areas)."""
        rows = self.rows()
        row = rows.get(key) if rows is not None else None
        return copy.copy(row) if row is not None else query(key)

    def rows(self) -> dict[Hashable, Model] | None:
        """The rows kept, by key (not to be changed: :meth:`get` copies one); None
        inside a transaction, where the database must be asked."""
        connection = connections[router.db_for_read(self.model)]
        if connection.in_atomic_block:
            return None
        rows, now = self._rows, time.monotonic()
        if rows is None or now - self._loaded_at >= CACHE_SECONDS:
            rows = self._rows = self.load()
            self._loaded_at = now
        return rows

    def clear(self) -> None:
        self._rows = None

    def _changed(self, **kwargs: object) -> None:
        self.clear()
