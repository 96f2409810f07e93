from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tongxin.people"
    verbose_name = "人员"
