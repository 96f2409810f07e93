"""Writes to the resident register: one transaction each, each audited."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from tongxin.areas.models import Area, Level
from tongxin.audit.models import AuditEntry, record
from tongxin.core.treepaths import bulk_add_children
from tongxin.people.models import Resident


def household_in(building: Area, unit: str, room: str) -> Area:
    """The household at unit/room of a building, made when it is new."""
    unit, room = unit.strip(), room.strip()
    found = Area.objects.filter(
        path__startswith=building.path,
        depth=building.depth + 1,
        level=Level.HOUSEHOLD,
        unit=unit,
        room=room,
    ).first()
    if found:
        return found
    building = Area.objects.select_for_update().get(pk=building.pk)
    node = Area(name=f"{unit}单元{room}室", level=Level.HOUSEHOLD, unit=unit, room=room)
    return bulk_add_children(building, [node])[0]


@transaction.atomic
def register_resident(
    request: HttpRequest, resident: Resident, building: Area, unit: str, room: str
) -> Resident:
    resident.household = household_in(building, unit, room)
    resident.save()
    record(request, AuditEntry.Action.CREATE, resident, f"登记于 {resident.household.full_name()}")
    return resident


@transaction.atomic
def update_resident(request: HttpRequest, resident: Resident, changed: list[str]) -> Resident:
    resident.save()
    record(request, AuditEntry.Action.CHANGE, resident, "修改： " + ", ".join(changed))
    return resident
