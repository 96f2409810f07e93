from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class BoardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tongxin.board"
    verbose_name = _("镜子墙")

    def ready(self) -> None:
        from tongxin.demands.models import Demand

        post_save.connect(keep_standing, sender=Demand, dispatch_uid="board.keep_standing")


def keep_standing(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """A saved demand's hot-topic link follows its state (open, done, merged or withdrawn),
    so the board counts its groups from the links alone. Not for a new demand (it is
    linked later, with the state it has then) nor a save that leaves the state alone."""
    if created or (update_fields is not None and "state" not in update_fields):
        return
    from tongxin.board.models import HotLink, Standing

    standing = Standing.of(instance.state)
    HotLink.objects.filter(demand_id=instance.pk).exclude(standing=standing).update(
        standing=standing
    )
