from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "tongxin.core"
    verbose_name = "基础"

    def ready(self) -> None:
        from tongxin.core import lookups  # noqa: F401  (registers __constant, __constant_in)
