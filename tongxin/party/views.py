from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tongxin.accounts.scope import scope_for
from tongxin.party.models import PartyOrg
from tongxin.people.models import PartyMember


def _with_counts(qs):
    """Each organisation with its own members and all members of its subtree."""
    return qs.annotate(own_members=Count("members")).select_related("area")


@login_required
def tree(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    if not scope.sees_party_orgs:
        raise PermissionDenied
    orgs = list(_with_counts(scope.party_orgs()).order_by("path"))
    # Subtree totals from the own counts, by path prefix: no query per node.
    for org in orgs:
        org.total_members = sum(o.own_members for o in orgs if o.path.startswith(org.path))
    top = min((o.depth for o in orgs), default=1)
    for org in orgs:
        org.indent = org.depth - top
    return render(request, "party/tree.html", {"orgs": orgs, "nav_section": "party"})


def _path_to(org: PartyOrg, scope) -> list[PartyOrg]:
    """The organisations above ``org``, each marked whether the user may open it."""
    above = list(PartyOrg.objects.filter(path__in=[org.path[: i * 4] for i in range(1, org.depth)]))
    allowed = scope.party_orgs().filter(pk__in=[o.pk for o in above])
    visible = set(allowed.values_list("pk", flat=True))
    for o in above:
        o.visible = o.pk in visible
    return above


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = scope_for(request.user)
    org = scope.party_orgs().select_related("area").filter(pk=pk).first()
    if org is None:
        raise Http404
    members = PartyMember.objects.filter(branch__path__startswith=org.path).select_related(
        "branch", "home_community"
    )
    q = request.GET.get("q", "").strip()
    if q:
        members = members.filter(Q(name__contains=q))
    page = Paginator(members.order_by("branch__path", "name"), 50).get_page(request.GET.get("page"))
    children = _with_counts(PartyOrg.objects.filter(path__startswith=org.path, depth=org.depth + 1))
    return render(
        request,
        "party/detail.html",
        {
            "org": org,
            "children": children,
            "page": page,
            "q": q,
            "path": _path_to(org, scope),
            "nav_section": "party",
        },
    )
