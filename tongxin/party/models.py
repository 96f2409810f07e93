"""Party organisations (党组织): 党委 > 党总支 > 党支部 > 党小组， mirroring the grid."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from tongxin.areas.models import Area


class OrgKind(models.IntegerChoices):
    WORKING_COMMITTEE = 5, _("党工委")
    COMMITTEE = 10, _("党委")
    GENERAL_BRANCH = 20, _("党总支")
    BRANCH = 30, _("党支部")
    GROUP = 40, _("党小组")


class PartyOrgQuerySet(MP_NodeQuerySet):
    def within(self, org: PartyOrg) -> PartyOrgQuerySet:
        return self.filter(path__startswith=org.path)

    def in_area(self, area: Area | None) -> PartyOrgQuerySet:
        if area is None:
            return self
        return self.filter(area__path__startswith=area.path)


class PartyOrgManager(MP_NodeManager.from_queryset(PartyOrgQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> PartyOrgQuerySet:
        return PartyOrgQuerySet(self.model, using=self._db).order_by("path")


class PartyOrg(MP_Node):
    """A party organisation (党组织), tied to the area it serves."""

    steplen = 4

    name = models.CharField(_("名称"), max_length=100)
    kind = models.PositiveSmallIntegerField(_("类型"), choices=OrgKind.choices)
    area = models.ForeignKey(
        Area, models.PROTECT, related_name="party_orgs", verbose_name=_("所在区域")
    )
    secretary = models.CharField(_("书记"), max_length=50, blank=True)

    objects = PartyOrgManager()

    class Meta:
        verbose_name = _("党组织")
        verbose_name_plural = _("党组织")

    def __str__(self) -> str:
        return self.name

    # treebeard 7 moved these to the manager; keep the readable spelling.
    @classmethod
    def add_root(cls, **kwargs) -> PartyOrg:
        return cls.objects.add_root(kwargs)

    def add_child(self, **kwargs) -> PartyOrg:
        return type(self).objects.add_child(self, kwargs)
