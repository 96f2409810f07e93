from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "tongxin.demo"
    verbose_name = "演示数据"
