import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# Chromium for the browser tests, one for the whole session (tests/browser/fixtures.py).
pytest_plugins = ["tests.browser.fixtures"]


@pytest.fixture(scope="session")
def _export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(autouse=True)
def _fast_and_synchronous(settings, _export_dir):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The ledger's export files: never into the real data folder.
    settings.TONGXIN_EXPORT_DIR = _export_dir
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _no_fragments_from_another_test():
    """The "fragments" cache lives in the process, not in the test's database: what one
    test drew must not show in the next."""
    from django.core.cache import caches

    caches["fragments"].clear()


@pytest.fixture
def world(db):
    from tongxin.testing import build_world

    return build_world()


PO = Path(__file__).resolve().parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="session")
def compiled_catalogue():
    """Compile the committed English .po, as setup does with compilemessages; written
    atomically so parallel workers never read half a file."""
    if shutil.which("msgfmt") is None:
        pytest.skip("GNU gettext (msgfmt) is not installed; apt install gettext")
    mo = PO.with_suffix(".mo")
    with tempfile.NamedTemporaryFile(dir=mo.parent, suffix=".mo.tmp", delete=False) as tmp:
        target = Path(tmp.name)
    try:
        result = subprocess.run(
            ["msgfmt", "--check-format", "-o", str(target), str(PO)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        os.replace(target, mo)
    finally:
        target.unlink(missing_ok=True)
    return mo


@pytest.fixture
def english(settings, compiled_catalogue):
    """The name of the language cookie, with the English catalogue compiled and
    Django's translation cache dropped (re-setting LOCALE_PATHS does that)."""
    settings.LOCALE_PATHS = [*settings.LOCALE_PATHS]
    return settings.LANGUAGE_COOKIE_NAME
