from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "tongxin.people"
    verbose_name = "人员"

    def ready(self) -> None:
        # Cache invalidation only (no domain flow): the home page's register counts.
        from django.db.models.signals import post_delete, post_save

        from tongxin.areas.models import Area
        from tongxin.people import counts
        from tongxin.people.models import Resident

        for model in (Resident, Area):
            uid = f"register-counts-{model.__name__}"
            post_save.connect(counts.changed, sender=model, dispatch_uid=uid)
            post_delete.connect(counts.changed, sender=model, dispatch_uid=uid)
