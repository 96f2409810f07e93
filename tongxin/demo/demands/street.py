"""The demo street as the demands' stories need it: communities with their workers,
party members and co-building units, places, residents and responsibility chains."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.demands.models import Category
from tongxin.people.models import Cadre, CoBuildingUnit, Resident


@dataclass
class Community:
    """A community with the people its demands go to."""

    area: Area
    secretary_chain: list[Responsibility]
    workers: list[User]
    station_cadre: User
    party_members: list[User]
    unit: CoBuildingUnit | None  # the first co-building unit (T3, as live)
    units: list[CoBuildingUnit]
    estates: list[Area] = field(default_factory=list)
    buildings: list[Area] = field(default_factory=list)
    households: list[Area] = field(default_factory=list)


@dataclass
class Street:
    """The demo street, loaded once: everything a story looks up, in memory."""

    district: Area
    street: Area
    communities: list[Community]
    areas_by_path: dict[str, Area]
    chains: dict[int, list[Responsibility]]  # area id -> chain in order
    residents_by_household: dict[int, list[tuple[int, str, str]]]
    street_chain: list[Responsibility]
    district_chain: list[Responsibility]
    cadres: list[tuple[User, str]]  # (user, unit)
    categories: dict[str, Category]


def present(chain: Sequence[Responsibility], day: dt.date) -> User | None:
    """The first person of a chain present on ``day`` (依次递补)."""
    for r in chain:
        if r.is_present(day):
            return r.user
    return None


def load_street(now: dt.datetime) -> Street:
    """Read the demo street once (a few dozen queries), for planning without queries."""
    district = Area.objects.filter(level=Level.DISTRICT).order_by("path").first()
    street = Area.objects.filter(level=Level.STREET, name="龙井街").order_by("path").first()
    if district is None or street is None:
        raise ValueError("no demo street: run build_demo_street first")
    areas = list(Area.objects.within(street).above_households().order_by("path"))
    by_path = {a.path: a for a in areas}
    by_path[district.path] = district
    chains: dict[int, list[Responsibility]] = defaultdict(list)
    for r in Responsibility.objects.select_related("user").order_by("area_id", "position"):
        chains[r.area_id].append(r)
    street_chain = ensure_chain(street, UserRole.STREET_OFFICE, chains)
    district_chain = ensure_chain(district, UserRole.DISTRICT_OFFICE, chains)

    users = list(User.objects.filter(is_active=True).order_by("pk"))
    workers, members = defaultdict(list), defaultdict(list)
    for u in users:
        if u.role == UserRole.COMMUNITY_WORKER:
            workers[u.area_id].append(u)
        elif u.role == UserRole.PARTY_MEMBER:
            members[u.area_id].append(u)
    units_of: dict[int, list[CoBuildingUnit]] = defaultdict(list)
    links = CoBuildingUnit.communities.through.objects.select_related("cobuildingunit")
    for link in links.order_by("cobuildingunit_id"):
        units_of[link.area_id].append(link.cobuildingunit)

    communities = []
    for area in areas:
        if area.level != Level.COMMUNITY:
            continue
        chain = chains[area.pk]
        cadre = next((r.user for r in chain if r.role == Role.STATION_CADRE), None)
        communities.append(
            Community(
                area=area,
                secretary_chain=chain,
                workers=workers[area.pk] or [chain[0].user],
                station_cadre=cadre or chain[0].user,
                party_members=members[area.pk],
                unit=area.co_building_units.first(),
                units=units_of[area.pk],
            )
        )
    by_community = {c.area.path: c for c in communities}
    step = Area.steplen
    for a in areas:
        c = by_community.get(a.path[: street.depth * step + step])
        if c is None:
            continue
        if a.level == Level.ESTATE:
            c.estates.append(a)
        elif a.level == Level.BUILDING:
            c.buildings.append(a)
    households = Area.objects.filter(level=Level.HOUSEHOLD, path__startswith=street.path)
    for h in households.order_by("path").only("id", "path", "name", "depth", "level"):
        c = by_community.get(h.path[: street.depth * step + step])
        if c is not None:
            c.households.append(h)
    residents: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    adult = now.date() - dt.timedelta(days=18 * 366)
    rows = Resident.objects.filter(household__path__startswith=street.path, birth_date__lte=adult)
    for pk, household, name, phone in rows.order_by("pk").values_list(
        "pk", "household_id", "name", "phone"
    ):
        residents[household].append((pk, name, phone))
    cadres = [(c.user, c.unit) for c in Cadre.objects.select_related("user").order_by("user_id")]
    return Street(
        district=district,
        street=street,
        communities=communities,
        areas_by_path=by_path,
        chains=chains,
        residents_by_household=residents,
        street_chain=street_chain,
        district_chain=district_chain,
        cadres=cadres,
        categories={c.code: c for c in Category.objects.filter(is_active=True)},
    )


def ensure_chain(area: Area, role: str, chains: dict[int, list[Responsibility]]):
    """The street's and the district's responsible person: the escalations to T3 and T4
    go there (as :func:`tongxin.demands.actions._next_tier_target` does). The demo street
    has none of its own; the demo's street and district office accounts take the post,
    saved with the demands (a new one has no pk yet)."""
    if chains.get(area.pk):
        return chains[area.pk]
    user = User.objects.filter(role=role, is_active=True).order_by("pk").first()
    if user is None:
        return []
    chains[area.pk] = [Responsibility(area=area, user=user, role=Role.STATION_CADRE, position=1)]
    return chains[area.pk]
