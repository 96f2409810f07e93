"""Accounts: every person who signs in, with one role and the area their work covers."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserRole(models.TextChoices):
    RESIDENT = "resident", _("居民")
    GRID_WORKER = "grid_worker", _("网格员")
    COMMUNITY_WORKER = "community_worker", _("社区工作者")
    PARTY_MEMBER = "party_member", _("党员")
    CADRE = "cadre", _("机关干部")
    STREET_OFFICE = "street_office", _("街道办")
    DISTRICT_OFFICE = "district_office", _("区一线办")
    ADMIN = "admin", _("系统管理员")


class User(AbstractUser):
    """A person who signs in to Tongxin (用户). ``area`` is where the role applies:
    the grid of a grid worker, the community of a community worker, the street of a
    street office; :func:`tongxin.accounts.scope.scope_for` turns both into rights."""

    full_name = models.CharField(_("姓名"), max_length=50)
    role = models.CharField(_("角色"), max_length=20, choices=UserRole.choices)
    area = models.ForeignKey(
        "areas.Area",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("负责区域"),
    )
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    # A resident or party member's own entry in the register, when there is one.
    resident = models.OneToOneField(
        "people.Resident",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="account",
        verbose_name=_("对应居民"),
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.full_name or self.username

    def save(self, *args, **kwargs) -> None:
        # Administrators are Django superusers too, so /admin/ serves them as a last resort.
        if self.role == UserRole.ADMIN:
            self.is_staff = self.is_superuser = True
        super().save(*args, **kwargs)
