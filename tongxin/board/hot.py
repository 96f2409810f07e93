"""Hot topics (热点问题): demands about the same problem in the same community within a
window, grouped by Chinese text similarity.

No model and no download: each text becomes the set of its character bigrams ("楼道堆满
杂物" → 楼道 道堆 堆满 满杂 杂物) and rapidfuzz's ``token_set_ratio`` compares the sets
(0–100). Two scores (``process.extract`` runs each row against the rest in C):

- the **title** score, over the titles as typed (the place in them, "3栋楼道", is part of
  what makes two reports the same problem);
- the **content** score, over title and description with building, unit and room
  numbers removed (so "5栋楼道漏水" and "5栋楼道给电动车充电" are not alike just because
  of "5栋楼道").

Two demands are alike when the title score is at least ``TITLE_MIN`` and the content
score at least ``CONTENT_FLOOR``, or the content score alone reaches ``CONTENT_MIN``.
Alike pairs are joined by union-find into groups. The thresholds were tuned on the
examples in tests/test_hot.py (docs/board.md lists them).

Cost: at most ``CAP`` demands per community (the most recent), so a window is at most
CAP² comparisons, about a second for 2,000 in C; callers cache the result.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from rapidfuzz import fuzz, process

from tongxin.areas.models import Area, Level
from tongxin.board.scrub import scrub
from tongxin.demands.models import OPEN_STATES, State

WINDOW_DAYS = 30
CAP = 2000
TITLE_MIN = 60
CONTENT_FLOOR = 35
CONTENT_MIN = 70

_NOT_WORDS = re.compile(r"[\W_]+")
_PLACE_NUMBERS = re.compile(r"[0-9０-９]+\s*(?:号楼|栋|幢|座|单元|号|室|户|楼|层)?")


def bigrams(text: str) -> str:
    """The text's distinct character bigrams, space-separated, for token_set_ratio."""
    chars = _NOT_WORDS.sub("", text)
    if len(chars) < 2:
        return chars
    return " ".join(sorted({chars[i : i + 2] for i in range(len(chars) - 1)}))


def content_bigrams(title: str, description: str) -> str:
    return bigrams(_PLACE_NUMBERS.sub("", f"{title}。{description}"))


def similar_pairs(texts: list[tuple[str, str]]) -> list[tuple[int, int]]:
    """Index pairs (i < j) of the (title, description) texts that are about the same
    problem, by the rule in the module docstring."""
    n = len(texts)
    if n < 2:
        return []
    titles = [bigrams(t) for t, _d in texts]
    contents = [content_bigrams(t, d) for t, d in texts]
    pairs = []
    for i in range(n - 1):
        # One call per row, the loop over the other rows runs in C.
        later = contents[i + 1 :]
        for _text, content_score, k in process.extract(
            contents[i], later, scorer=fuzz.token_set_ratio, score_cutoff=CONTENT_FLOOR, limit=None
        ):
            j = i + 1 + k
            if content_score >= CONTENT_MIN or (
                fuzz.token_set_ratio(titles[i], titles[j], score_cutoff=TITLE_MIN) >= TITLE_MIN
            ):
                pairs.append((i, j))
    return pairs


def union_find(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    """The connected components of ``n`` items joined by ``pairs``, each sorted."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[root(i)].append(i)
    return list(groups.values())


@dataclass
class Member:
    pk: int
    title: str
    description: str
    created_at: dt.datetime
    state: str
    community_id: int
    community: str
    area_path: str
    names: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def state_label(self) -> str:
        return str(State(self.state).label)


@dataclass
class Group:
    """Demands about one problem in one community, earliest first."""

    members: list[Member]
    estate: str = ""

    @property
    def main(self) -> Member:
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def community(self) -> str:
        return self.main.community

    @property
    def open_count(self) -> int:
        return sum(m.is_open for m in self.members)

    @property
    def latest(self) -> dt.datetime:
        return max(m.created_at for m in self.members)


def candidates(demands: QuerySet, *, now: dt.datetime, days: int = WINDOW_DAYS) -> QuerySet:
    """Demands of the window that may still be grouped: collected in the last ``days``
    days, or still open (an old open case is still the same problem), and not already
    merged or withdrawn."""
    since = now - dt.timedelta(days=days)
    return (
        demands.filter(Q(created_at__gte=since) | Q(state__in=OPEN_STATES))
        .filter(created_at__lt=now)
        .exclude(state__in=[State.MERGED, State.WITHDRAWN])
    )


def estates_within(area: Area | None) -> list[tuple[str, str]]:
    """(path, name) of the estates (小区) under ``area`` (all of them for None)."""
    return list(Area.objects.within(area).filter(level=Level.ESTATE).values_list("path", "name"))


def estate_of(path: str, estates: list[tuple[str, str]]) -> str:
    for estate_path, name in estates:
        if path.startswith(estate_path):
            return name
    return ""


def hot_groups(
    demands: QuerySet,
    *,
    estates: list[tuple[str, str]] = (),
    now: dt.datetime | None = None,
    days: int = WINDOW_DAYS,
    cap: int = CAP,
) -> list[Group]:
    """Groups of two or more alike demands among ``demands`` (already scoped), most
    reports first, each named by its estate when all its demands lie in one of
    ``estates``. One query."""
    now = now or timezone.now()
    rows = (
        candidates(demands, now=now, days=days)
        .order_by("community_id", "-created_at", "-pk")
        .values_list(
            "pk",
            "title",
            "description",
            "created_at",
            "state",
            "community_id",
            "community__name",
            "area__path",
            "reporter_name",
            "reporter__name",
        )
    )
    by_community: dict[int, list[Member]] = defaultdict(list)
    for pk, title, desc, created, state, cid, cname, path, rname, rrname in rows:
        if len(by_community[cid]) < cap:
            names = tuple(n for n in (rname, rrname) if n)
            by_community[cid].append(
                Member(pk, title, desc, created, state, cid, cname, path, names)
            )
    groups: list[Group] = []
    for members in by_community.values():
        # Compared as the board would show them: names, phones and rooms say who
        # reported, not what the problem is.
        texts = [(scrub(m.title, m.names), scrub(m.description, m.names)) for m in members]
        pairs = similar_pairs(texts)
        for component in union_find(len(members), pairs):
            if len(component) > 1:
                chosen = sorted((members[i] for i in component), key=lambda m: (m.created_at, m.pk))
                places = {estate_of(m.area_path, list(estates)) for m in chosen}
                groups.append(Group(chosen, estate=places.pop() if len(places) == 1 else ""))
    groups.sort(key=lambda g: (-g.count, -g.latest.timestamp(), g.main.pk))
    return groups
