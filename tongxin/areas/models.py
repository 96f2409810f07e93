"""The area tree (区 > 街道 > 社区 > 小区 > 片区 > 楼栋 > 户) and its responsible chains."""

from __future__ import annotations

import copy
import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from tongxin.core.choices import ChoiceLabels
from tongxin.core.prepared import Prepared
from tongxin.core.refcache import ReferenceCache

if TYPE_CHECKING:
    from tongxin.accounts.models import User


class Level(models.IntegerChoices):
    DISTRICT = 10, _("区")
    STREET = 20, _("街道")
    COMMUNITY = 30, _("社区/村")
    ESTATE = 40, _("小区")
    ZONE = 50, _("网格")
    BUILDING = 60, _("楼栋")
    HOUSEHOLD = 70, _("户")


class AreaQuerySet(MP_NodeQuerySet):
    def within(self, area: Area | None) -> AreaQuerySet:
        """The area and everything below it: one indexed prefix query on the path."""
        if area is None:
            return self
        return self.filter(path__startswith=area.path)

    def above_households(self) -> AreaQuerySet:
        return self.exclude(level=Level.HOUSEHOLD)


class AreaManager(MP_NodeManager.from_queryset(AreaQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> AreaQuerySet:
        return AreaQuerySet(self.model, using=self._db).order_by("path")


class Area(ChoiceLabels, MP_Node):
    """A node of the area tree (区域/网格): a district, street, community, estate,
    zone, building or household. Levels may be skipped, and the tree may be as deep
    as a place needs; ``level`` says what a node is, ``depth`` where it sits."""

    # Four base-36 characters a level allow 1.6 million children per node: enough
    # for the households of any building and the buildings of any estate.
    steplen = 4

    name = models.CharField(_("名称"), max_length=100)
    level = models.PositiveSmallIntegerField(_("层级"), choices=Level.choices)
    code = models.CharField(_("编码"), max_length=40, blank=True)
    # For a household: the unit (单元) and room (房号) of its address.
    unit = models.CharField(_("单元"), max_length=20, blank=True)
    room = models.CharField(_("房号"), max_length=20, blank=True)

    objects = AreaManager()

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        indexes = [models.Index(fields=["level", "path"])]

    def __str__(self) -> str:
        return self.name

    # treebeard 7 moved these to the manager; keep the readable spelling.
    @classmethod
    def add_root(cls, **kwargs) -> Area:
        return cls.objects.add_root(kwargs)

    def add_child(self, **kwargs) -> Area:
        return type(self).objects.add_child(self, kwargs)

    def path_prefixes(self) -> list[str]:
        """The paths of the nodes from the root down to this one."""
        return [self.path[: i * self.steplen] for i in range(1, self.depth + 1)]

    def ancestors_and_self(self) -> list[Area]:
        """The nodes on the path to this one, root first: one query on the path
        prefixes, built once per process for each depth (a demand's page asks it for
        the place, the suggested handlers and the departments)."""
        if not self.path:  # not in the tree yet
            return []
        # Kept on this instance while its path stays (a demand's page asks three
        # times of the demand's place); each caller gets its own list.
        kept = self.__dict__.get("_ancestors")
        if kept is None or kept[0] != self.path:
            prefixes = self.path_prefixes()
            kept = self._ancestors = (
                self.path,
                _ANCESTORS.list(len(prefixes), _nodes_at, *prefixes),
            )
        return list(kept[1])

    def full_name(self) -> str:
        return " / ".join(a.name for a in self.ancestors_and_self())

    def ancestor_at(self, level: int) -> Area | None:
        for a in self.ancestors_and_self():
            if a.level == level:
                return a
        return None

    def responsible_now(self, on: dt.date | None = None) -> Responsibility | None:
        """Who answers for this node today (依次递补): the first present person of its
        chain; when everyone there is away, the chain of the node above, and so on up."""
        on = on or timezone.localdate()
        return next((r for r in self.chains_upwards() if r.is_present(on)), None)

    def chains_upwards(self) -> models.QuerySet[Responsibility]:
        """The chains of this node and of every node above it, nearest first, each in its
        order, with their users: one query."""
        return chains_of(*self.path_prefixes())


class Role(models.TextChoices):
    """The posts a responsible person can hold on a node."""

    GRID_LEADER = "grid_leader", _("网格长")
    GRID_WORKER = "grid_worker", _("网格员")
    HOUSEHOLD_LIAISON = "household_liaison", _("联户长")
    BUILDING_LEADER = "building_leader", _("楼栋长")
    PARTY_GROUP_LEADER = "party_group_leader", _("党小组长")
    COMMUNITY_SECRETARY = "community_secretary", _("社区书记")
    STATION_CADRE = "station_cadre", _("驻点干部")
    ESTATE_LEADER = "estate_leader", _("小区长")


class Responsibility(models.Model):
    """One place in a node's ordered chain of responsible persons (责任人)."""

    area = models.ForeignKey(Area, models.CASCADE, related_name="responsibilities")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="responsibilities",
        verbose_name=_("责任人"),
    )
    role = models.CharField(_("职责"), max_length=30, choices=Role.choices)
    position = models.PositiveSmallIntegerField(_("顺位"), default=1)
    absent_from = models.DateField(_("离岗起"), null=True, blank=True)
    absent_until = models.DateField(_("离岗至"), null=True, blank=True)
    absence_reason = models.CharField(_("离岗原因"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("责任人")
        verbose_name_plural = _("责任链")
        ordering = ["area", "position"]
        constraints = [
            models.UniqueConstraint(fields=["area", "position"], name="unique_chain_position"),
            models.UniqueConstraint(fields=["area", "user"], name="unique_person_per_chain"),
        ]

    def __str__(self) -> str:
        return f"{self.area} · {self.get_role_display()} · {self.user}"

    def is_present(self, on: dt.date) -> bool:
        """Away when ``on`` lies in [absent_from, absent_until]; an open end means
        "from then on" or "until further notice"."""
        if not self.user.is_active:
            return False
        if self.absent_from is None and self.absent_until is None:
            return True
        starts = self.absent_from or dt.date.min
        ends = self.absent_until or dt.date.max
        return not (starts <= on <= ends)


def chains_of(*paths: str) -> models.QuerySet[Responsibility]:
    """The chains of the nodes with these paths, the deepest first, each in its order,
    with their users (:meth:`Area.chains_upwards`)."""
    return (
        Responsibility.objects.filter(area__path__in=paths)
        .select_related("user")
        .order_by("-area__depth", "position")
    )


def _nodes_at(*paths: str):
    return Area.objects.filter(path__in=paths).order_by("depth")


# Per depth: a household is 7 levels down, a tree may go deeper.
_ANCESTORS = Prepared(size=16)


def responsible_user(area: Area, on: dt.date | None = None) -> User | None:
    r = area.responsible_now(on)
    return r.user if r else None


def _communities() -> dict:
    communities = Area.objects.filter(level=Level.COMMUNITY).order_by()
    # By id (a report's QR code) and by path (the community a place lies in).
    return {key: a for a in communities for key in (a.pk, a.path)}


# Every report reads its community: kept for a minute per process (core.refcache).
COMMUNITIES = ReferenceCache(Area, _communities)


def community_around(area: Area) -> Area | None:
    """The community ``area`` lies in, or is: from :data:`COMMUNITIES` outside a
    transaction, else (or for a community not kept yet) by one query."""
    if area.level == Level.COMMUNITY:
        return area
    rows = COMMUNITIES.rows()
    if rows is not None:
        for prefix in reversed(area.path_prefixes()[:-1]):
            if (community := rows.get(prefix)) is not None:
                return copy.copy(community)
    return area.ancestor_at(Level.COMMUNITY)
