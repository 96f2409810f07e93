from django.apps import AppConfig


class WorkcalConfig(AppConfig):
    name = "tongxin.workcal"
    verbose_name = "工作日历"

    def ready(self) -> None:
        # Cache invalidation only (no domain flow): a saved or deleted adjustment
        # must reach the next deadline computed in this process.
        from django.db.models.signals import post_delete, post_migrate, post_save

        from tongxin.workcal import calendar
        from tongxin.workcal.models import CalendarDay

        post_save.connect(calendar.receive_change, sender=CalendarDay, dispatch_uid="workcal")
        post_delete.connect(calendar.receive_change, sender=CalendarDay, dispatch_uid="workcal")
        # ``flush`` (transactional tests) empties the table without per-row signals.
        post_migrate.connect(calendar.receive_change, dispatch_uid="workcal-flush")
