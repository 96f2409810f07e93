"""Changes to responsible chains: each one transaction, each audited."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest

from tongxin.accounts.models import User
from tongxin.areas.models import Area, Responsibility
from tongxin.audit.models import AuditEntry, record


@transaction.atomic
def add_responsible(request: HttpRequest, area: Area, user: User, role: str) -> Responsibility:
    Area.objects.select_for_update().filter(pk=area.pk).first()
    last = area.responsibilities.aggregate(m=Max("position"))["m"] or 0
    r = Responsibility.objects.create(area=area, user=user, role=role, position=last + 1)
    record(request, AuditEntry.Action.CHANGE, area, f"责任链加入 {user}（{r.get_role_display()}）")
    return r


@transaction.atomic
def remove_responsible(request: HttpRequest, r: Responsibility) -> None:
    record(request, AuditEntry.Action.CHANGE, r.area, f"责任链移除 {r.user}")
    r.delete()


@transaction.atomic
def move_up(request: HttpRequest, r: Responsibility) -> None:
    """Swap with the one before; positions are unique, so park one at 0 meanwhile."""
    chain = list(r.area.responsibilities.select_for_update().order_by("position"))
    i = next(i for i, x in enumerate(chain) if x.pk == r.pk)
    if i == 0:
        return
    before = chain[i - 1]
    a, b = before.position, r.position
    Responsibility.objects.filter(pk=r.pk).update(position=0)
    Responsibility.objects.filter(pk=before.pk).update(position=b)
    Responsibility.objects.filter(pk=r.pk).update(position=a)
    record(request, AuditEntry.Action.CHANGE, r.area, f"责任链调整：{r.user} 前移")


@transaction.atomic
def set_absence(request: HttpRequest, r: Responsibility, start, end, reason: str) -> None:
    r.absent_from, r.absent_until, r.absence_reason = start, end, reason
    r.save(update_fields=["absent_from", "absent_until", "absence_reason"])
    record(
        request,
        AuditEntry.Action.CHANGE,
        r.area,
        f"{r.user} 离岗 {start or ''}–{end or ''} {reason}",
    )


@transaction.atomic
def clear_absence(request: HttpRequest, r: Responsibility) -> None:
    r.absent_from = r.absent_until = None
    r.absence_reason = ""
    r.save(update_fields=["absent_from", "absent_until", "absence_reason"])
    record(request, AuditEntry.Action.CHANGE, r.area, f"{r.user} 返岗")
