"""Data scope: the one place that decides what a user may see and change.

Every page and every API endpoint asks here. A scope is a subtree of the area tree
(or the whole tree, or nothing) for seeing, and another for changing; a resident sees
only their own household.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level
from tongxin.core.prepared import Prepared

if TYPE_CHECKING:
    from tongxin.people.models import Resident

# Roles that may change the register inside the area they can see.
_EDITORS = {
    UserRole.GRID_WORKER,
    UserRole.COMMUNITY_WORKER,
    UserRole.STREET_OFFICE,
    UserRole.DISTRICT_OFFICE,
    UserRole.ADMIN,
}
# Roles that see the register of their area (read only unless also editors).
_REGISTER_READERS = _EDITORS | {UserRole.CADRE}


def subtree(path: str, field: str = "path") -> Q:
    """The node at ``path`` and every node below it. The prefix test decides; the same
    test written as a range lets SQLite walk the path index (it cannot for a LIKE: its
    LIKE ignores case, the index does not), which on a city's tree is a few hundred
    rows read instead of every area. Every path below ``path`` is ``path`` followed by
    characters of the tree's alphabet, so none sorts above ``path`` padded with the
    alphabet's last character."""
    top = max(Area.alphabet)
    longest = Area._meta.get_field("path").max_length
    return Q(
        **{
            f"{field}__startswith": path,
            f"{field}__gte": path,
            f"{field}__lte": path + top * (longest - len(path)),
        }
    )


@dataclass(frozen=True)
class Scope:
    """What one user may reach. ``everything`` trumps ``area``; with neither and no
    ``household`` the user reaches nothing of the register."""

    everything: bool = False
    area: Area | None = None
    household_id: int | None = None
    can_change: bool = False
    can_manage_users: bool = False
    # Party organisations (names, members with masked phones) a user may browse.
    org_everything: bool = False
    org_area: Area | None = None

    @property
    def sees_area_tree(self) -> bool:
        """Staff whose work covers an area (not a resident looking at their own home)."""
        return self.everything or self.area is not None

    @property
    def sees_register(self) -> bool:
        return self.everything or self.area is not None or self.household_id is not None

    def covers_area(self, area: Area) -> bool:
        if self.everything:
            return True
        if self.area is not None:
            return area.path.startswith(self.area.path)
        return False

    def areas(self, qs: QuerySet[Area] | None = None) -> QuerySet[Area]:
        qs = Area.objects.all() if qs is None else qs
        if self.everything:
            return qs
        if self.area is not None:
            return qs.filter(subtree(self.area.path))
        return qs.none()

    def residents(self, qs: QuerySet[Resident] | None = None) -> QuerySet[Resident]:
        from tongxin.people.models import Resident

        qs = Resident.objects.all() if qs is None else qs
        if self.everything:
            return qs
        if self.area is not None:
            return qs.filter(household__path__startswith=self.area.path)
        if self.household_id is not None:
            return qs.filter(household_id=self.household_id)
        return qs.none()

    def covers_resident(self, resident: Resident) -> bool:
        if self.everything:
            return True
        if self.area is not None:
            return resident.household.path.startswith(self.area.path)
        return self.household_id is not None and resident.household_id == self.household_id

    def may_change_resident(self, resident: Resident) -> bool:
        return self.can_change and self.covers_resident(resident)

    def may_change_area(self, area: Area) -> bool:
        return self.can_change and self.covers_area(area)

    # --- demands --------------------------------------------------------------------
    def demands(self, user: User, qs=None):
        """Demands a user may open: those of their area; for a party member also those
        they handle and the open orders of their community's pool; for a resident the
        ones they reported."""
        from tongxin.demands.models import Demand, State

        qs = Demand.objects.all() if qs is None else qs
        if self.everything:
            return qs
        if self.area is not None:
            return qs.filter(self._area_demands() | Q(handler=user))
        if self.org_area is not None:  # a party member
            return qs.filter(
                Q(handler=user)
                | Q(
                    state=State.DISPATCHED,
                    pool=True,
                    handler__isnull=True,
                    area__path__startswith=self.org_area.path,
                )
            )
        if user.is_authenticated and user.resident_id:
            return qs.filter(Q(reporter_id=user.resident_id) | Q(handler=user))
        return qs.filter(handler=user) if user.is_authenticated else qs.none()

    def demands_key(self, user: User) -> tuple:
        """Everything :meth:`demands` (without ``qs``) depends on: equal keys give the
        same query. The SQL of the pages opened most is kept by this key
        (core.prepared), so the two change together; test_scope_key checks them."""
        if self.everything:
            return ("all",)
        if self.area is not None:
            return ("area", self.area.pk, self.area.path, self.area.level, user.pk)
        if self.org_area is not None:
            return ("party", self.org_area.path, user.pk)
        if user.is_authenticated and user.resident_id:
            return ("resident", user.resident_id, user.pk)
        return ("handler", user.pk) if user.is_authenticated else ("nobody",)

    def demand_parts(self, user: User, qs=None) -> list:
        """:meth:`demands` as disjoint querysets whose union it is: for staff with an
        area, the demands located there and those they handle elsewhere (usually none).
        A count over one part walks one index range; over their OR (what demands()
        says) PostgreSQL reads every open demand of the city, so the counts of the work
        tabs and the dashboard add up the parts (views_staff.section_counts)."""
        from tongxin.demands.models import Demand, located_in

        if self.everything or self.area is None:
            return [self.demands(user, qs)]
        qs = Demand.objects.all() if qs is None else qs
        if self.area.level < Level.COMMUNITY:
            # The communities as a list (one query) rather than a subquery, whose row
            # estimate sends PostgreSQL's planner to read the whole area table.
            communities = self.areas().filter(level=Level.COMMUNITY).values_list("pk", flat=True)
            area = Q(community_id__in=list(communities))
        else:
            area = located_in(self.area)
        return [qs.filter(area), qs.filter(Q(handler=user) & ~area)]

    def page_parts(self, user: User, qs=None) -> tuple:
        """:meth:`demands` as parts whose union it is, for a list read one page at a
        time newest first (ledger.page_of): for staff with an area, the demands located
        there and those they handle (the two may overlap). Each part is read down an
        index in the list's order, 31 rows; their OR was read whole and sorted by SQLite
        (a community of 17,000 demands: 51 ms a page). Above a community, the one
        part :meth:`demands` (see :meth:`page_part_count`)."""
        from tongxin.demands.models import Demand, located_in

        if self.page_part_count() == 1:
            return (self.demands(user, qs),)
        qs = Demand.objects.all() if qs is None else qs
        return (qs.filter(located_in(self.area)), qs.filter(handler=user))

    def page_part_count(self) -> int:
        """How many parts :meth:`page_parts` gives, without building them. Above a
        community (a street, a district) one: the area's demands are a large share of
        all, which both databases find fastest by walking the ledger's own index
        ("demand_keyset") past the few others; PostgreSQL, which cannot tell how many
        communities the area's subquery names, sorted a street's 110,000 demands when
        asked for them alone."""
        if self.everything or self.area is None or self.area.level < Level.COMMUNITY:
            return 1
        return 2

    def cache_key(self, user: User) -> str:
        """Whose rows a cached value is about: the user (the demands they handle
        elsewhere are theirs too) and their scope, so a changed scope never reads the
        old value."""
        if self.everything:
            where = "all"
        elif self.area is not None:
            where = f"{self.area.pk}:{self.area.path}"
        else:
            where = "none"
        return f"{user.pk}:{where}"

    def _area_demands(self) -> Q:
        from tongxin.demands.models import located_in

        return located_in(self.area)

    def may_dispatch(self, demand) -> bool:
        """Accept, dispatch, merge, return-visit: staff who may change the demand's area."""
        return self.can_change and self.covers_area(demand.area)

    @property
    def sees_party_orgs(self) -> bool:
        return self.org_everything or self.org_area is not None

    def party_orgs(self, qs=None):
        from tongxin.party.models import PartyOrg

        qs = PartyOrg.objects.all() if qs is None else qs
        if self.org_everything:
            return qs
        if self.org_area is not None:
            return qs.filter(area__path__startswith=self.org_area.path)
        return qs.none()


def scope_for(user: User) -> Scope:
    """THE data-scope function. Nothing else grants access to protected rows."""
    if not user.is_authenticated or not user.is_active:
        return Scope()
    if user.role == UserRole.ADMIN:
        return Scope(everything=True, can_change=True, can_manage_users=True, org_everything=True)
    if user.role == UserRole.RESIDENT:
        household = user.resident.household_id if user.resident_id else None
        return Scope(household_id=household)
    if user.area_id is None:
        return Scope()
    if user.role in _REGISTER_READERS:
        return Scope(area=user.area, can_change=user.role in _EDITORS, org_area=user.area)
    # Party members: their community's party organisations, none of the register.
    return Scope(org_area=user.area)


def get_resident_for(user: User, pk: int, *, change: bool = False) -> Resident:
    """Fetch a resident the user may see (or change), else 404 / 403.

    A resident outside the scope answers 404, so a guessed URL does not even tell
    whether that person exists."""
    from django.http import Http404

    scope = scope_for(user)
    resident = scope.residents().select_related("household").filter(pk=pk).first()
    if resident is None:
        raise Http404
    if change and not scope.may_change_resident(resident):
        raise PermissionDenied
    return resident


def get_area_for(user: User, pk: int, *, change: bool = False) -> Area:
    from django.http import Http404

    scope = scope_for(user)
    area = Area.objects.filter(pk=pk).first()
    if area is None:
        raise Http404
    if not (scope.covers_area(area) or _is_ancestor_of_scope(scope, area)):
        raise Http404
    if change and not scope.may_change_area(area):
        raise PermissionDenied
    return area


# A demand's page is opened more than any other: its query, built by the ORM, took
# longer to build (1.8 ms) than to run, so it is built once per scope (core.prepared).
_DEMANDS = Prepared(size=512)


def get_demand_for(user: User, pk: int):
    """A demand the user may open, else 404 (no hint whether it exists)."""
    from django.http import Http404

    scope = scope_for(user)

    def build(pk):
        return (
            scope.demands(user)
            .select_related("area", "community", "category", "handler", "reporter", "entered_by")
            .filter(pk=pk)
        )

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < pk < 2**63:
        raise Http404
    demand = _DEMANDS.get(("demand", scope.demands_key(user)), build, pk)
    if demand is None:
        raise Http404
    return demand


def _is_ancestor_of_scope(scope: Scope, area: Area) -> bool:
    """The nodes above a user's own area are shown as the path to it (names only)."""
    return scope.area is not None and scope.area.path.startswith(area.path)
