from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tongxin.api"
    verbose_name = "接口"
