"""The audit trail: who saw whose personal data, and who changed what."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    """One audited act (审计记录). Append-only: nothing in Tongxin updates or deletes it."""

    class Action(models.TextChoices):
        VIEW_PERSONAL_DATA = "view_pd", _("查看完整个人信息")
        CREATE = "create", _("新增")
        CHANGE = "change", _("修改")
        IMPORT = "import", _("导入")
        EXPORT = "export", _("导出")
        USER_ADMIN = "user_admin", _("用户管理")

    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="audit_entries",
        verbose_name=_("操作人"),
    )
    action = models.CharField(_("操作"), max_length=20, choices=Action.choices)
    # What was touched: "people.resident:123" and a readable label kept as it was then.
    target = models.CharField(_("对象"), max_length=100, db_index=True)
    target_label = models.CharField(_("对象名称"), max_length=200, blank=True)
    detail = models.CharField(_("说明"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP地址"), null=True, blank=True)
    user_agent = models.CharField(_("浏览器"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.get_action_display()} {self.target_label}"
        )


def client_ip(request: HttpRequest) -> str | None:
    # Behind a reverse proxy, the deployment sets TONGXIN_TRUSTED_PROXY so the
    # forwarded address is believed; otherwise the socket's address is what counts.
    if getattr(settings, "TONGXIN_TRUSTED_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


def record(request: HttpRequest, action: str, obj: models.Model, detail: str = "") -> AuditEntry:
    return AuditEntry.objects.create(
        user=request.user,
        action=action,
        target=f"{obj._meta.label_lower}:{obj.pk}",
        target_label=str(obj)[:200],
        detail=detail[:500],
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )
