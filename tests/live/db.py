"""The scratch database of one live test, read directly (raw SQL, outside Django): what
is really on disk, whatever the app servers said."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


@dataclass
class Snapshot:
    """Demands with their events, their announce jobs and inbox messages, as stored."""

    demands: dict[int, dict] = field(default_factory=dict)  # id -> row
    events: dict[int, list[tuple[int, str, int | None]]] = field(default_factory=dict)
    notifications: Counter = field(default_factory=Counter)  # demand id -> count
    announced: Counter = field(default_factory=Counter)  # demand id -> announce jobs
    announce_done: Counter = field(default_factory=Counter)  # demand id -> jobs run
    undelivered: set = field(default_factory=set)  # messages without a delivery job

    def by_code(self) -> dict[str, dict]:
        return {d["tracking_code"]: d for d in self.demands.values()}

    def kinds(self, demand_id: int) -> list[str]:
        return [kind for _id, kind, _tier in self.events.get(demand_id, [])]


class ScratchDb:
    """Either a SQLite file (``path``) or a PostgreSQL database (``url``)."""

    def __init__(self, *, path: Path | None = None, url: str | None = None) -> None:
        assert (path is None) != (url is None)
        self.path, self.url = path, url

    @property
    def vendor(self) -> str:
        return "sqlite" if self.path else "postgresql"

    def query(self, sql: str) -> list[tuple]:
        if self.path:
            conn = sqlite3.connect(self.path, timeout=20)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()

    def execute(self, sql: str) -> int:
        """A write, committed; returns the rows changed."""
        if self.path:
            conn = sqlite3.connect(self.path, timeout=20)
            try:
                with conn:
                    return conn.execute(sql).rowcount
            finally:
                conn.close()
        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql).rowcount

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        for pk, code, token, tier, state in self.query(
            "SELECT id, tracking_code, submission_token, tier, state FROM demands_demand"
        ):
            snap.demands[pk] = {
                "id": pk,
                "tracking_code": code,
                "submission_token": token,
                "tier": tier,
                "state": state,
            }
        events = defaultdict(list)
        for pk, demand_id, kind, tier_after in self.query(
            "SELECT id, demand_id, kind, tier_after FROM demands_demandevent ORDER BY id"
        ):
            events[demand_id].append((pk, kind, tier_after))
        snap.events = dict(events)
        for demand_id, n in self.query(
            "SELECT demand_id, COUNT(*) FROM demands_notification GROUP BY demand_id"
        ):
            snap.notifications[demand_id] = n
        # A new demand's job that tells its dispatchers (notify.announce_task) is queued
        # in the demand's transaction: its arguments hold the demand's tracking code.
        by_code = {d["tracking_code"]: pk for pk, d in snap.demands.items()}
        for args, status in self.query(
            "SELECT args_kwargs, status FROM django_tasks_database_dbtaskresult "
            "WHERE task_path = 'tongxin.demands.notify.announce_task'"
        ):
            demand_id = by_code.get(_first_arg(args))  # None: a job without its demand
            snap.announced[demand_id] += 1
            if status == "SUCCESSFUL":
                snap.announce_done[demand_id] += 1
        # Each message's delivery job (notify.deliver_task) is queued in the same
        # transaction: its arguments hold the message id.
        jobs = {
            _first_arg(args)
            for (args,) in self.query(
                "SELECT args_kwargs FROM django_tasks_database_dbtaskresult "
                "WHERE task_path = 'tongxin.demands.notify.deliver_task'"
            )
        }
        messages = {pk for (pk,) in self.query("SELECT id FROM demands_notification")}
        snap.undelivered = messages - jobs
        return snap


def _first_arg(args) -> int | str:
    return (json.loads(args) if isinstance(args, str) else args)["args"][0]
