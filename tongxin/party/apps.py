from django.apps import AppConfig


class PartyConfig(AppConfig):
    name = "tongxin.party"
    verbose_name = "党组织"
