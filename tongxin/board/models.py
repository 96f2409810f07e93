"""What the board stores: the hot-topic group of each demand (see tongxin.board.hot)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongxin.areas.models import Area
from tongxin.demands.models import OPEN_STATES, Demand, State


class Standing(models.IntegerChoices):
    """Whether a linked demand can still be in a hot-topic group: an open one of any age,
    a finished one while it is in the window, a merged or withdrawn one never."""

    GONE = 0, _("已合并或撤回")
    OPEN = 1, _("办理中")
    DONE = 2, _("已办结")

    @classmethod
    def of(cls, state: str) -> Standing:
        if state in OPEN_STATES:
            return cls.OPEN
        if state in (State.MERGED, State.WITHDRAWN):
            return cls.GONE
        return cls.DONE


class HotLink(models.Model):
    """The hot-topic group (热点问题) a demand was put in when it was linked.

    ``key`` is the pk of the earliest (smallest pk) demand of the group, its own pk when
    it is alike to no other. Written by :func:`tongxin.board.hot.link_pending` in the
    background, read by :func:`tongxin.board.hot.stored_groups`. ``community`` and
    ``created_at`` are copies of the demand's, so the linking can find a community's
    window without touching the demands table twice; ``standing`` follows the demand's
    state (set when linked, kept by a ``post_save`` receiver, see
    :mod:`tongxin.board.apps`), so that the top groups of an area are counted from this
    table alone (:func:`tongxin.board.hot.stored_groups`)."""

    demand = models.OneToOneField(
        Demand,
        models.CASCADE,
        primary_key=True,
        related_name="hotlink",
        verbose_name=_("诉求"),
    )
    community = models.ForeignKey(Area, models.CASCADE, related_name="+", verbose_name=_("社区"))
    created_at = models.DateTimeField(_("反映时间"))
    # Not shown to anyone, so no translated name (the group is shown through its demands).
    key = models.BigIntegerField()
    standing = models.SmallIntegerField(_("状态"), choices=Standing.choices, default=Standing.OPEN)

    class Meta:
        verbose_name = _("热点问题")
        verbose_name_plural = _("热点问题")
        indexes = [
            # The members of the top groups (stored_groups), the re-keying UPDATE.
            models.Index(fields=["key"], name="board_hotlink_key"),
            models.Index(fields=["community", "created_at"], name="board_hotlink_window"),
            # The top groups of some communities, counted from the index alone.
            models.Index(
                fields=["community", "standing", "created_at", "key"], name="board_hotlink_count"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.demand_id} → {self.key}"
