"""Settings of the benchmark server: Tongxin's own, plus two bench-only views
(``bench/urls.py``). Used only by ``bench/run.py``; never deploy with it."""

from tongxin.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
