"""Fixtures of the live tests: a scratch database per test (a SQLite file in a temporary
data folder, or a PostgreSQL database made and dropped here), migrated and seeded by
processes of their own, and real gunicorn servers on it.

These tests do not use pytest-django's test database: the app servers are other
processes and could not see its uncommitted transaction.

Which run they belong to (``./tongxin.sh test`` runs pytest once on SQLite, once with
DATABASE_URL=postgres://…): the PostgreSQL tests in the PostgreSQL run only, the SQLite
ones in the SQLite run only, so nothing runs twice."""

from __future__ import annotations

import os
import secrets
import time
import urllib.parse
from dataclasses import dataclass

import psycopg
import pytest

from tests.live.db import ScratchDb
from tests.live.server import AppServer, live_env, migrate_and_seed

ON_PG = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))

pg_run_only = pytest.mark.skipif(
    not ON_PG, reason="PostgreSQL variant: runs in the PostgreSQL run (DATABASE_URL=postgres://…)"
)
sqlite_run_only = pytest.mark.skipif(
    ON_PG, reason="SQLite variant: runs in the SQLite run (without DATABASE_URL)"
)


@dataclass
class Live:
    """One test's scratch database: the environment for its processes, what the seed
    made, and direct access for the checks."""

    env: dict[str, str]
    seed: dict
    db: ScratchDb


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"live_report_{report.when}", report)
    return report


def _failed(request) -> bool:
    return any(
        getattr(request.node, f"live_report_{when}", None) is not None
        and getattr(request.node, f"live_report_{when}").failed
        for when in ("setup", "call")
    )


@pytest.fixture
def app_servers(request, tmp_path):
    """Makes AppServers (``app_servers("a")``); all are stopped at the end, and their logs
    are printed when the test failed."""
    made: list[AppServer] = []

    def make(name: str) -> AppServer:
        server = AppServer(name, tmp_path)
        made.append(server)
        return server

    yield make
    for server in made:
        try:
            server.stop()
        finally:
            if server.running():
                server.kill()
    if _failed(request):
        for server in made:
            print(f"\n----- gunicorn {server.name} log ({server.log_path}) -----")
            print(server.log_tail())


@pytest.fixture
def live_sqlite(tmp_path) -> Live:
    """A new SQLite database (WAL, as settings.py configures it) in a temporary data folder."""
    data = tmp_path / "data"
    data.mkdir()
    env = live_env(data, None)
    seed = migrate_and_seed(env)
    return Live(env, seed, ScratchDb(path=data / "tongxin.sqlite3"))


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def _pg_admin():
    """An autocommit connection to the server's ``postgres`` database; skips when the
    server cannot be reached — or fails, when TONGXIN_REQUIRE_PG=1 says it must be there."""
    admin_url = _with_database(os.environ["DATABASE_URL"], "postgres")
    try:
        return psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        message = f"PostgreSQL not reachable at {admin_url}: {str(e).strip()[:200]}"
        if os.environ.get("TONGXIN_REQUIRE_PG") == "1":
            pytest.fail(f"{message} (TONGXIN_REQUIRE_PG=1)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def _pg_template(tmp_path_factory):
    """One migrated and seeded database for the run (migrating takes seconds); each test
    gets a copy of it (CREATE DATABASE … TEMPLATE, a file copy). Dropped at the end."""
    admin = _pg_admin()
    name = f"tongxin_live_tmpl_{secrets.token_hex(6)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        data = tmp_path_factory.mktemp("live-template")
        seed = migrate_and_seed(live_env(data, _with_database(os.environ["DATABASE_URL"], name)))
        yield admin, name, seed
    finally:
        try:
            _drop(admin, name)
        finally:
            admin.close()


@pytest.fixture
def live_pg(_pg_template, tmp_path) -> Live:
    """A new PostgreSQL database ``tongxin_live_<random>`` on the server of DATABASE_URL,
    migrated and seeded, dropped at the end (its connections terminated first)."""
    admin, template, seed = _pg_template
    name = f"tongxin_live_{secrets.token_hex(6)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        url = _with_database(os.environ["DATABASE_URL"], name)
        data = tmp_path / "data"
        data.mkdir()
        yield Live(live_env(data, url), seed, ScratchDb(url=url))
    finally:
        _drop(admin, name)


def _drop(admin, name: str, timeout: float = 15) -> None:
    """Terminate what is still connected (a killed server's orphans, say), then drop; a
    terminated backend takes a moment to go, so the drop is tried until it is gone."""
    deadline = time.monotonic() + timeout
    while True:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
