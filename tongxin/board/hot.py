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

Two ways to get the groups:

- :func:`hot_groups` recounts them: every pair of the window, at most ``CAP`` demands
  per community (the most recent), so CAP² comparisons, about a second for 2,000 in C
  per community. Kept as the reference (the tests check the stored groups against it)
  and for one-off uses.
- :func:`link_pending` (the background worker, every minute) compares each new demand
  once with its community's window and stores its group in :class:`HotLink` (``key``:
  the smallest pk of the group; alike groups are joined by re-keying them);
  :func:`stored_groups` reads the groups back in one query, with no text
  comparison at all. The board and the staff page use this one.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone
from rapidfuzz import fuzz, process

from tongxin.areas.models import Area, Level
from tongxin.board.models import HotLink, Standing
from tongxin.board.scrub import scrub
from tongxin.demands.models import OPEN_STATES, Demand, State

WINDOW_DAYS = 30
CAP = 2000
# Demands linked per call of link_pending (the background task calls it in rounds), and
# rows per INSERT when linking demands that are out of every window.
LINK_BATCH = 500
OUT_OF_WINDOW_CHUNK = 5000
GONE_STATES = (State.MERGED, State.WITHDRAWN)
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


def alike_to(title: str, content: str, titles: list[str], contents: list[str]) -> list[int]:
    """Indexes into ``titles``/``contents`` (bigrams, as made by :func:`bigrams` and
    :func:`content_bigrams`) of the texts alike to one text (``title``, ``content``, also
    bigrams), by the rule in the module docstring. One ``process.extract`` call: the loop
    over the list runs in C. Shared by the pairwise recount and the incremental linking,
    so both group by the very same rule."""
    alike = []
    for _text, content_score, k in process.extract(
        content, contents, scorer=fuzz.token_set_ratio, score_cutoff=CONTENT_FLOOR, limit=None
    ):
        if content_score >= CONTENT_MIN or (
            fuzz.token_set_ratio(title, titles[k], score_cutoff=TITLE_MIN) >= TITLE_MIN
        ):
            alike.append(k)
    return alike


def text_bigrams(title: str, description: str) -> tuple[str, str]:
    """(title bigrams, content bigrams) of one text, the inputs of :func:`alike_to`."""
    return bigrams(title), content_bigrams(title, description)


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
        # One call per row against the later rows.
        for k in sorted(alike_to(titles[i], contents[i], titles[i + 1 :], contents[i + 1 :])):
            pairs.append((i, i + 1 + k))
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
        .exclude(state__in=GONE_STATES)
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
        .values_list(*_MEMBER_FIELDS)
    )
    by_community: dict[int, list[Member]] = defaultdict(list)
    for row in rows:
        member = _member(row)
        if len(by_community[member.community_id]) < cap:
            by_community[member.community_id].append(member)
    groups: list[Group] = []
    for members in by_community.values():
        # Compared as the board would show them: names, phones and rooms say who
        # reported, not what the problem is.
        texts = [(scrub(m.title, m.names), scrub(m.description, m.names)) for m in members]
        pairs = similar_pairs(texts)
        for component in union_find(len(members), pairs):
            if len(component) > 1:
                groups.append(_group([members[i] for i in component], estates))
    return _in_order(groups)


_MEMBER_FIELDS = (
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


def _member(row: tuple) -> Member:
    pk, title, desc, created, state, cid, cname, path, rname, rrname = row
    names = tuple(n for n in (rname, rrname) if n)
    return Member(pk, title, desc, created, state, cid, cname, path, names)


def _group(members: list[Member], estates) -> Group:
    chosen = sorted(members, key=lambda m: (m.created_at, m.pk))
    places = {estate_of(m.area_path, list(estates)) for m in chosen}
    return Group(chosen, estate=places.pop() if len(places) == 1 else "")


def _in_order(groups: list[Group]) -> list[Group]:
    """Most reports first, then the most recently reported, then the earliest main."""
    groups.sort(key=lambda g: (-g.count, -g.latest.timestamp(), g.main.pk))
    return groups


# --- stored groups: linked in the background, read back cheaply --------------------------
def stored_groups(
    demands: QuerySet,
    *,
    estates: list[tuple[str, str]] = (),
    now: dt.datetime | None = None,
    days: int = WINDOW_DAYS,
    limit: int | None = None,
    offset: int = 0,
    communities: list[int] | None = None,
    elsewhere: QuerySet | None = None,
) -> list[Group]:
    """The groups :func:`hot_groups` finds, read from :class:`HotLink` instead of
    compared: the same candidates (``demands``, already scoped, in the window), grouped
    by their stored key, keys with two or more candidates only; the same members, order
    and estate naming. ``limit``: the first so many groups only (the board shows five),
    after the first ``offset`` (the staff page shows them a page at a time).

    One query whatever the number of demands or groups: the keys are counted in SQL (a
    subquery), and only the members of the chosen groups are loaded. Demands not linked
    yet (collected within the last minute or so) are not in any group.

    ``communities``: when ``demands`` are exactly the demands of these communities (an
    area at community level or above, as the board has them), the keys are counted from
    the links' own columns — community, standing, time, key — on one covering index,
    without reading a demand; only the chosen groups' members are. ``elsewhere``: the
    demands of ``demands`` outside those communities (a staff member's scope: those
    they handle elsewhere, :meth:`Scope.demand_parts`), whose links are counted by
    their keys — a group lies in one community, so each is counted whole or by the
    members in the scope, as over the demands. Otherwise the keys are counted over the
    scoped demands joined to their links: for a district's scope, every demand of its
    history looked up (SQLite 2–4 s at a million)."""
    now = now or timezone.now()
    window = candidates(demands, now=now, days=days).filter(hotlink__isnull=False)
    if communities is None:
        counted = (
            window.order_by()
            .values("hotlink__key")
            .annotate(n=Count("pk"), latest=Max("created_at"), first=Min("pk"))
            .filter(n__gte=2)
            .order_by("-n", "-latest", "first")
            .values("hotlink__key")
        )
    else:
        counted = (
            _window_links(communities, now=now, days=days, elsewhere=elsewhere)
            .values("key")
            .annotate(n=Count("key"), latest=Max("created_at"), first=Min("demand_id"))
            .filter(n__gte=2)
            .order_by("-n", "-latest", "first")
            .values("key")
        )
    if limit is not None:
        counted = counted[offset : offset + limit]
    elif offset:
        counted = counted[offset:]
    rows = (
        window.filter(hotlink__key__in=counted)
        .order_by("created_at", "pk")
        .values_list(*_MEMBER_FIELDS, "hotlink__key")
    )
    by_key: dict[int, list[Member]] = defaultdict(list)
    for *row, key in rows:
        by_key[key].append(_member(row))
    return _in_order([_group(members, estates) for members in by_key.values()])


def _window_links(
    communities: list[int], *, now: dt.datetime, days: int, elsewhere: QuerySet | None = None
) -> QuerySet:
    """The links of the candidates of :func:`candidates`, told from the links' own
    columns: open ones of any age, done ones of the window, never gone ones; in
    ``communities``, or of the demands ``elsewhere``."""
    since = now - dt.timedelta(days=days)
    where = Q(community_id__in=communities)
    if elsewhere is not None:
        where |= Q(demand_id__in=elsewhere.order_by().values("pk"))
    return HotLink.objects.filter(where, created_at__lt=now).filter(
        Q(standing=Standing.OPEN) | Q(standing=Standing.DONE, created_at__gte=since)
    )


@dataclass
class Brief:
    """A group as the board shows it, without its member list: the main (earliest)
    demand, how many and how many still open, the latest report, the estate naming as
    in :class:`Group`, and every member's reporter names (to mask them)."""

    main: Member
    count: int
    open_count: int
    latest: dt.datetime
    estate: str
    names: frozenset[str]

    @property
    def community(self) -> str:
        return self.main.community

    @classmethod
    def of(cls, group: Group) -> Brief:
        return cls(
            group.main,
            group.count,
            group.open_count,
            group.latest,
            group.estate,
            frozenset(n for m in group.members for n in m.names),
        )


def stored_briefs(
    demands: QuerySet,
    *,
    communities: list[int],
    estates: list[tuple[str, str]] = (),
    now: dt.datetime | None = None,
    days: int = WINDOW_DAYS,
    limit: int = 5,
) -> list[Brief]:
    """The first ``limit`` groups of :func:`stored_groups` (``demands`` being exactly
    the demands of ``communities``), as :class:`Brief` — what the board shows — without
    loading their members: a busy street's top groups hold thousands of demands.

    Four queries: the groups counted from the links alone (count, open, latest); per
    group the first report and the least and greatest area path (an estate is a path
    prefix, so when both ends lie in one estate every member does); the main demands;
    the reporters' names."""
    now = now or timezone.now()
    counted = list(
        _window_links(communities, now=now, days=days)
        .values("key")
        .annotate(
            n=Count("key"),
            n_open=Count("key", filter=Q(standing=Standing.OPEN)),
            latest=Max("created_at"),
            first=Min("demand_id"),
        )
        .filter(n__gte=2)
        .order_by("-n", "-latest", "first")
        .values_list("key", "n", "n_open", "latest")[:limit]
    )
    if not counted:
        return []
    keys = [key for key, *_rest in counted]
    window = candidates(demands, now=now, days=days).filter(hotlink__key__in=keys)
    ends = {
        key: (earliest, low, high)
        for key, earliest, low, high in window.order_by()
        .values("hotlink__key")
        .annotate(earliest=Min("created_at"), low=Min("area__path"), high=Max("area__path"))
        .values_list("hotlink__key", "earliest", "low", "high")
    }
    mains: dict[int, Member] = {}
    firsts = window.filter(created_at__in={e for e, _lo, _hi in ends.values()})
    for *row, key in firsts.order_by("-created_at", "-pk").values_list(
        *_MEMBER_FIELDS, "hotlink__key"
    ):
        member = _member(row)
        if member.created_at == ends[key][0]:
            mains[key] = member  # the last one set is the smallest pk
    names: dict[int, set[str]] = defaultdict(set)
    named = window.filter(~Q(reporter_name="") | Q(reporter__isnull=False))
    for key, *row_names in named.values_list("hotlink__key", "reporter_name", "reporter__name"):
        names[key].update(n for n in row_names if n)
    briefs = []
    for key, n, n_open, latest in counted:
        if key not in mains:  # (its demands left the scope since the links were read)
            continue
        _earliest, low, high = ends[key]
        low_estate, high_estate = estate_of(low, list(estates)), estate_of(high, list(estates))
        briefs.append(
            Brief(
                mains[key],
                n,
                n_open,
                latest,
                low_estate if low_estate == high_estate else "",
                frozenset(names[key]),
            )
        )
    return briefs


def link_pending(
    now: dt.datetime | None = None, *, batch: int = LINK_BATCH, everything: bool = False
) -> int:
    """Put demands not linked yet into their hot-topic group (a :class:`HotLink` each);
    returns how many were linked.

    Pending are the unlinked demands that are or may become candidates: collected in the
    ``WINDOW_DAYS`` before ``now``, or still open. The ``batch`` earliest of them are
    linked, community by community, in (created_at, pk) order: each is compared, by
    :func:`alike_to`, with its community's window (the candidates of
    :func:`candidates` as seen from the demand: collected in the ``WINDOW_DAYS``
    before it or still open, not merged or withdrawn, the ``CAP`` most recent) among the
    linked demands and the earlier ones of the batch. It joins the groups of those it is
    alike to, under the smallest of their keys; groups it joins are re-keyed to that key
    (one UPDATE). A merged or withdrawn one is compared with nothing: a group of its own.

    Older demands that are no longer open are never candidates, so they need no link and
    are not looked at — unless ``everything``: then each gets a group of its own (key =
    its pk), in bulk (``manage.py link_hot_topics --all``, after the first deployment).
    It is left out of the minutely run because finding them scans every old demand.

    Safe to run in two processes at once: each community is linked in its own
    transaction that first locks the community's row (``SELECT … FOR NO KEY UPDATE`` on
    PostgreSQL, which does not block inserting demands; SQLite's BEGIN IMMEDIATE already
    lets one writer in at a time), then reads again which demands are still unlinked. So
    a demand is linked once, against a window that holds every demand linked before."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=WINDOW_DAYS)
    linked = _link_out_of_window(now, since) if everything else 0
    pending = (
        Demand.objects.filter(hotlink__isnull=True, created_at__lte=now)
        .filter(Q(created_at__gte=since) | Q(state__in=OPEN_STATES))
        .order_by("created_at", "pk")
        .values_list("pk", "community_id")[:batch]
    )
    by_community: dict[int, list[int]] = defaultdict(list)
    for pk, community_id in pending:
        by_community[community_id].append(pk)
    for community_id in sorted(by_community):
        linked += _link_community(community_id, by_community[community_id])
    return linked


def _link_out_of_window(now: dt.datetime, since: dt.datetime) -> int:
    """A group of its own (key = pk) for every unlinked demand no window can hold."""
    out = (
        Demand.objects.filter(hotlink__isnull=True, created_at__lt=since)
        .exclude(state__in=OPEN_STATES)
        .order_by("pk")
        .values_list("pk", "community_id", "created_at", "state")
    )
    total, after = 0, 0
    while True:
        chunk = list(out.filter(pk__gt=after)[:OUT_OF_WINDOW_CHUNK])
        if not chunk:
            return total
        # Another process may link the same rows at the same time: the same values,
        # and the second insert of a row is skipped.
        HotLink.objects.bulk_create(
            [
                HotLink(
                    demand_id=pk,
                    community_id=c,
                    created_at=at,
                    key=pk,
                    standing=Standing.of(state),
                )
                for pk, c, at, state in chunk
            ],
            ignore_conflicts=True,
        )
        total += len(chunk)
        after = chunk[-1][0]
        if len(chunk) < OUT_OF_WINDOW_CHUNK:
            return total


_TEXT_FIELDS = ("title", "description", "reporter_name", "reporter__name")


@lru_cache(maxsize=32768)
def _texts(title: str, description: str, *names: str) -> tuple[str, str]:
    """(title, content) bigrams of a demand, scrubbed as :func:`hot_groups` does. Cached:
    the worker sees the same window every minute, and scrubbing it is most of a run."""
    names = tuple(n for n in names if n)
    return text_bigrams(scrub(title, names), scrub(description, names))


def _lock_community(community_id: int) -> None:
    """Hold the community's row until the transaction ends, so that one process at a time
    links its demands. NO KEY UPDATE where the database has it: inserting a demand of the
    community (a foreign key to the row) still goes on meanwhile."""
    rows = Area.objects.filter(pk=community_id)
    if connection.features.has_select_for_update:
        rows = rows.select_for_update(no_key=connection.features.has_select_for_no_key_update)
    list(rows.values_list("pk"))


def _link_community(community_id: int, pks: list[int]) -> int:
    with transaction.atomic():
        _lock_community(community_id)
        # Read again under the lock: another process may have linked some meanwhile.
        # The batch's rows are locked too, so that a step changing one's state waits
        # until its link exists and then sets the link's standing (apps.keep_standing);
        # a step done before is read here.
        unlinked = Demand.objects.filter(pk__in=pks, hotlink__isnull=True)
        if connection.features.has_select_for_update_of:
            unlinked = unlinked.select_for_update(
                of=("self",), no_key=connection.features.has_select_for_no_key_update
            )
        batch = list(
            unlinked.order_by("created_at", "pk").values_list(
                "pk", "created_at", "state", *_TEXT_FIELDS
            )
        )
        if not batch:
            return 0
        span = dt.timedelta(days=WINDOW_DAYS)
        # The community's window, loaded once for the whole batch: the linked candidates
        # from 30 days before the batch's first demand, but no older than the CAP-th
        # most recent (older ones can never be among the CAP most recent), and the
        # open ones of any age.
        linked = Demand.objects.filter(community_id=community_id, hotlink__isnull=False).exclude(
            state__in=GONE_STATES
        )
        floor = batch[0][1] - span
        nth = list(
            linked.order_by("-created_at", "-pk").values_list("created_at", flat=True)[
                CAP - 1 : CAP
            ]
        )
        if nth and nth[0] > floor:
            floor = nth[0]
        window = (
            linked.filter(Q(created_at__gte=floor) | Q(state__in=OPEN_STATES))
            .order_by("created_at", "pk")
            .values_list("created_at", "state", "hotlink__key", *_TEXT_FIELDS)
        )
        # Sorted by time, in parallel lists so that the slices handed to alike_to are
        # made in C.
        times, opens, keys, titles, contents = [], [], [], [], []
        for created, state, key, title, description, *names in window:
            title_bigrams, content_bigrams_ = _texts(title, description, *names)
            times.append(created)
            opens.append(state in OPEN_STATES)
            keys.append(key)
            titles.append(title_bigrams)
            contents.append(content_bigrams_)
        stored_keys = set(keys)
        parent: dict[int, int] = {}  # union-find over keys: joined groups

        def root(key: int) -> int:
            while key in parent:
                key = parent[key]
            return key

        links = []
        for pk, created, state, title, description, *names in batch:
            if state in GONE_STATES:  # merged or withdrawn: never a candidate again
                links.append((pk, created, pk, state))
                continue
            title_bigrams, content_bigrams_ = _texts(title, description, *names)
            # Collected in the window before it (or after it: a demand entered late),
            # or older and still open; the CAP most recent of those.
            cut = bisect_left(times, created - span)
            older_open = [i for i in range(cut) if opens[i]]
            if older_open:
                index = older_open + list(range(cut, len(times)))
                index = index[-CAP:]
                cand_titles = [titles[i] for i in index]
                cand_contents = [contents[i] for i in index]
            else:
                start = max(cut, len(times) - CAP)
                index = range(start, len(times))
                cand_titles, cand_contents = titles[start:], contents[start:]
            roots = {
                root(keys[index[k]])
                for k in alike_to(title_bigrams, content_bigrams_, cand_titles, cand_contents)
            }
            key = min(roots | {pk})
            for other in roots - {key}:
                parent[other] = key
            links.append((pk, created, key, state))
            at = bisect_right(times, created)
            for column, value in (
                (times, created),
                (opens, state in OPEN_STATES),
                (keys, key),
                (titles, title_bigrams),
                (contents, content_bigrams_),
            ):
                column.insert(at, value)
        # Groups of the window that were joined: each moved to its new key at once.
        moves: dict[int, list[int]] = defaultdict(list)
        for key in stored_keys:
            if root(key) != key:
                moves[root(key)].append(key)
        for new_key, old_keys in moves.items():
            HotLink.objects.filter(key__in=old_keys).update(key=new_key)
        HotLink.objects.bulk_create(
            [
                HotLink(
                    demand_id=pk,
                    community_id=community_id,
                    created_at=at,
                    key=root(key),
                    standing=Standing.of(state),
                )
                for pk, at, key, state in links
            ],
            ignore_conflicts=True,
        )
        return len(links)
