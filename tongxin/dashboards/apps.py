from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "tongxin.dashboards"
    verbose_name = "统计看板与简报"
