from django.apps import AppConfig


class AreasConfig(AppConfig):
    name = "tongxin.areas"
    verbose_name = "区域与网格"
