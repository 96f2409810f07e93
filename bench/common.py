"""What every benchmark here does first: Django on a fresh, throw-away database."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str | None, data_dir: str | None = None) -> Path:
    """Django set up on a new SQLite file in a temporary folder (removed at exit) — or in
    the given ``data_dir`` (kept) — or on the PostgreSQL database given; migrated.
    Returns the data folder."""
    if data_dir:
        data_dir = Path(data_dir)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="tongxin-bench-"))
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ["TONGXIN_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongxin.settings")
    os.environ["TONGXIN_TASKS_BACKEND"] = "django_tasks.backends.immediate.ImmediateBackend"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the cache table comes with the schema
    return data_dir
