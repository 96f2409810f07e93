"""Settings of the app servers the live tests start: production's, except static files.

Production serves WhiteNoise's compressed manifest, built by ``manage.py collectstatic``
into ``staticfiles/`` at install time; a test machine has no such build, and every page
with a ``{% static %}`` would fail on the missing manifest. The root conftest swaps the
storage for the same reason; collectstatic itself is tested in tests/test_static.py."""

from tongxin.settings import *  # noqa: F403
from tongxin.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
