"""Where an Open311 request is: a place inside the API key's user's scope.

``address_id`` names an area; ``address_string`` is matched against the names of the
communities, estates, grids and buildings the user covers, and a text that names none
of them is refused rather than guessed. Our areas have no coordinates, so ``lat`` and
``long`` alone place a request only when the user's scope is one community (or a place
inside one): there is then only one place it can be."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level
from tongxin.open311.render import Problem

MATCH_LEVELS = (Level.COMMUNITY, Level.ESTATE, Level.ZONE, Level.BUILDING)


def place_for(user, params: Mapping[str, str]) -> Area:
    scope = scope_for(user)
    if not scope.sees_area_tree:
        raise Problem(403, _("此 api_key 的用户不能提交诉求。"))
    if params.get("address_id"):
        return _by_id(scope, params["address_id"])
    text = params.get("address_string", "").strip()
    if not text and not (params.get("lat") and params.get("long")):
        raise Problem(400, _("缺少位置：请提供 lat 和 long、address_string 或 address_id。"))
    if text:
        found = _by_name(scope, text)
        if found is None:
            raise Problem(
                400,
                _(
                    "address_string 无法对应到此 api_key 范围内的社区、小区、网格或楼栋，请提供 address_id。"
                ),
            )
        return found
    own = _single_community(scope)
    if own is None:
        raise Problem(400, _("位置无法确定，请提供 address_id 或 address_string。"))
    return own


def _by_id(scope: Scope, value: str) -> Area:
    area = (
        Area.objects.filter(pk=int(value)).first() if value.isdigit() and len(value) < 12 else None
    )
    if area is None or area.level < Level.COMMUNITY or not scope.covers_area(area):
        raise Problem(400, _("address_id 不存在或不在此 api_key 的范围内。"))
    return area


def _by_name(scope: Scope, text: str) -> Area | None:
    """The deepest place whose name, and as many of its ancestors' names as possible,
    appear in the text: "仁和家园1栋" finds 1栋 of 仁和家园, not of another estate."""
    if len(text) > 200:
        raise Problem(400, _("address_string 过长。"))
    named = [
        (path, pk, level)
        for pk, name, path, level in scope.areas(
            Area.objects.filter(level__constant_in=MATCH_LEVELS)
        )
        .values_list("pk", "name", "path", "level")
        .iterator(chunk_size=2000)
        if name and name in text
    ]
    if not named:
        return None
    matched = {path for path, _pk, _level in named}
    steplen = Area.steplen

    def score(entry: tuple[str, int, int]) -> tuple[int, int]:
        path, _pk, level = entry
        hits = sum(path[:i] in matched for i in range(steplen, len(path) + 1, steplen))
        return hits, level

    best = max(score(e) for e in named)
    winners = [e for e in named if score(e) == best]
    if len(winners) > 1:
        raise Problem(400, _("address_string 对应多个地点，请写得更具体或提供 address_id。"))
    # A building alone ("1栋") must be anchored by its estate or community.
    if best[0] == 1 and winners[0][2] == Level.BUILDING:
        return None
    return Area.objects.get(pk=winners[0][1])


def _single_community(scope: Scope) -> Area | None:
    if scope.area is not None and scope.area.level >= Level.COMMUNITY:
        return scope.area
    return None
