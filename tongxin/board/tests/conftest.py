import pytest


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A private in-memory cache per test, so one test's board is not another's."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "board-tests",
        },
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
