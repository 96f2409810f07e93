import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    """Rate-limit counters live in the cache; each test starts with none, in a cache of
    its own (whatever backend the deployment configures)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "open311-tests",
        },
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def categories(db):
    from tongxin.demands.testing import ensure_categories

    ensure_categories()


@pytest.fixture
def key(world, categories) -> str:
    """An API key acting as worker_a (community A's community worker)."""
    from tongxin.api.models import ApiToken

    _token, key = ApiToken.issue(name="Open311 测试", user=world.worker_a)
    return key
