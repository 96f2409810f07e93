"""How Tongxin talks to its database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from tongxin.accounts.models import User

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)


@on_postgres
@pytest.mark.django_db
def test_a_statement_run_again_and_again_is_prepared_once():
    """PostgreSQL binds the parameters (server_side_binding), and psycopg prepares a
    statement the connection has run five times: later runs skip parsing and planning."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    for pk in range(1, 8):
        User.objects.filter(pk=pk).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "accounts_user"' in s and "$1" in s for s in prepared), prepared


@on_postgres
def test_prepared_statements_can_be_turned_off_for_a_pooler():
    code = (
        "from django.conf import settings; o = settings.DATABASES['default'].get('OPTIONS', {});"
        " print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tongxin.settings"}
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    on = subprocess.run(
        run, env=env, capture_output=True, text=True, check=True, cwd=settings.BASE_DIR
    )
    off = subprocess.run(
        run,
        env={**env, "TONGXIN_PG_PREPARED": "0"},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    assert on.stdout.split() == ["True", "5"]
    assert off.stdout.split() == ["None", "None"]
