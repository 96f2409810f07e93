from django.apps import AppConfig


class DemandsConfig(AppConfig):
    name = "tongxin.demands"
    verbose_name = "群众诉求"
