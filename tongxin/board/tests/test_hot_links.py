"""The stored hot-topic groups (HotLink, linked in the background) against the pairwise
recount (hot.hot_groups), which stays the reference."""

import datetime as dt
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tongxin.areas.models import Area, Level
from tongxin.board import hot, tasks
from tongxin.board.models import HotLink, Standing
from tongxin.board.tests.test_hot import (
    BOXES,
    CHARGING,
    DOG,
    LAMP,
    LAMP_BROKEN,
    LEAK,
    LITTER,
    LITTER_SHORT,
)
from tongxin.demands import actions
from tongxin.demands.models import Demand
from tongxin.demands.testing import submit


def members(groups: list[hot.Group]) -> list[list[int]]:
    return [[m.pk for m in g.members] for g in groups]


def assert_same_groups(now=None, demands=None, **kw) -> list[hot.Group]:
    """stored_groups gives what hot_groups recounts: members (all fields), order, estate.
    For all demands, counted both ways: over the demands, and from the links alone (the
    board's way, by community)."""
    everything = demands is None
    demands = Demand.objects.all() if demands is None else demands
    estates = hot.estates_within(None)
    stored = hot.stored_groups(demands, estates=estates, now=now, **kw)
    recounted = hot.hot_groups(demands, estates=estates, now=now, **kw)
    assert members(stored) == members(recounted)
    assert stored == recounted  # every field of every member, and the estate
    if everything:
        communities = list(Area.objects.filter(level=Level.COMMUNITY).values_list("pk", flat=True))
        by_links = hot.stored_groups(
            demands, estates=estates, now=now, communities=communities, **kw
        )
        assert by_links == recounted
        # The board's briefs (no member list): the same first groups, summed up alike.
        briefs = hot.stored_briefs(
            demands,
            communities=communities,
            estates=estates,
            now=now,
            days=kw.get("days", hot.WINDOW_DAYS),
            limit=kw.get("limit") or 1000,
        )
        assert briefs == [hot.Brief.of(g) for g in recounted]
    return stored


def keys_of(demands) -> set[int]:
    return set(HotLink.objects.filter(demand__in=demands).values_list("key", flat=True))


def add(area, text, days_ago: float, now=None):
    now = now or timezone.now()
    title, description = text
    return submit(area, title=title, description=description, now=now - dt.timedelta(days_ago))


def street_of_demands(world, now):
    """Alike and unalike demands over three weeks in both communities, some in the
    estate, some only in the community (a group across both names no estate)."""
    a, b = world.building_a, world.household_b1
    rows = [
        (a, LITTER, 20),
        (a, LAMP, 19),
        (world.household_a1, BOXES, 15),
        (a, CHARGING, 14),
        (a, DOG, 12),
        (world.community_a, LAMP_BROKEN, 10),
        (a, LEAK, 9),
        (world.household_a2, LITTER_SHORT, 5),
        (a, LEAK, 3),
        (b, LITTER, 8),
        (b, BOXES, 2),
        (b, DOG, 1),
    ]
    return [add(area, text, days, now) for area, text, days in rows]


@pytest.mark.django_db
def test_stored_groups_are_the_recounted_groups(world):
    now = timezone.now()
    demands = street_of_demands(world, now)
    assert hot.link_pending(now=now) == len(demands)
    assert HotLink.objects.count() == len(demands)
    groups = assert_same_groups(now)
    assert len(groups) == 4  # litter (3) in A; lamp, leak in A; litter in B
    litter = groups[0]
    assert [m.title for m in litter.members] == [LITTER[0], BOXES[0], LITTER_SHORT[0]]
    assert litter.estate == "仁和家园"
    lamp = next(g for g in groups if g.main.title == LAMP[0])
    assert lamp.estate == ""  # one in the estate, one only in the community
    assert {g.community for g in groups} == {"仁和社区", "宏丰社区"}
    # Each group is keyed by its smallest pk, a demand alone by its own.
    for group in groups:
        assert keys_of(m.pk for m in group.members) == {min(m.pk for m in group.members)}
    dog = demands[4]
    assert keys_of([dog]) == {dog.pk}
    # Scoped like the staff page: community B's only.
    assert_same_groups(now, Demand.objects.filter(community=world.community_b))
    # Nothing left to link.
    assert hot.link_pending(now=now) == 0


@pytest.mark.django_db
def test_demands_linked_one_by_one_make_the_same_groups(world):
    now = timezone.now()
    rows = [
        (LITTER, 9),
        (LAMP, 8),
        (BOXES, 7),
        (CHARGING, 6),
        (LAMP_BROKEN, 5),
        (LEAK, 4),
        (LITTER_SHORT, 3),
        (DOG, 2),
        (LEAK, 1),
    ]
    for text, days in rows:
        demand = add(world.building_a, text, days, now)
        assert hot.link_pending(now=demand.created_at + dt.timedelta(seconds=1)) == 1
        assert_same_groups(demand.created_at + dt.timedelta(seconds=1))
    assert members(assert_same_groups(now)) == members(hot.hot_groups(Demand.objects.all()))


@pytest.mark.django_db
def test_a_bridge_demand_joins_two_groups_under_the_smallest_key(world):
    now = timezone.now()
    # BOXES and LITTER_SHORT are not alike; LITTER is alike to both.
    boxes = [add(world.building_a, BOXES, d, now) for d in (6, 5)]
    short = [add(world.building_a, LITTER_SHORT, d, now) for d in (4, 3)]
    hot.link_pending(now=now)
    assert len(assert_same_groups(now)) == 2
    assert keys_of(boxes) == {boxes[0].pk} and keys_of(short) == {short[0].pk}
    bridge = add(world.building_a, LITTER, 1, now)
    with CaptureQueriesContext(connection) as queries:
        assert hot.link_pending(now=now) == 1
    assert sum(q["sql"].startswith("UPDATE") for q in queries.captured_queries) == 1
    (group,) = assert_same_groups(now)
    assert [m.pk for m in group.members] == [d.pk for d in [*boxes, *short, bridge]]
    assert keys_of([*boxes, *short, bridge]) == {boxes[0].pk}


@pytest.mark.django_db
def test_a_batch_joins_groups_among_its_own_demands(world):
    """Alike demands that arrive in the same minute are linked to each other too."""
    now = timezone.now()
    texts = [BOXES, BOXES, LITTER_SHORT, LITTER_SHORT, LITTER, LAMP, LAMP_BROKEN]
    for i, text in enumerate(texts):
        add(world.building_a, text, 1 - i / 100, now)
    assert hot.link_pending(now=now, batch=3) == 3  # the rest in the next round
    assert hot.link_pending(now=now, batch=3) == 3
    assert hot.link_pending(now=now, batch=3) == 1
    assert [g.count for g in assert_same_groups(now)] == [5, 2]


@pytest.mark.django_db
def test_merged_and_withdrawn_members_are_dropped_when_read(world):
    now = timezone.now()
    first, second, third = (
        add(world.building_a, t, d, now)
        for t, d in zip((LITTER, BOXES, LITTER_SHORT), (3, 2, 1), strict=True)
    )
    hot.link_pending(now=now)
    actions.withdraw_demand(third)
    (group,) = assert_same_groups()
    assert [m.pk for m in group.members] == [first.pk, second.pk]
    actions.merge_demand(second, into=first, by=world.worker_a)
    assert hot.stored_groups(Demand.objects.all()) == [] == hot.hot_groups(Demand.objects.all())


@pytest.mark.django_db
def test_demands_older_than_the_window(world):
    now = timezone.now()
    old_done = add(world.building_a, LITTER, 60, now)
    actions.withdraw_demand(old_done)
    old_closed = add(world.building_a, BOXES, 45, now)
    actions.dispatch_demand(old_closed, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(old_closed, by=world.grid_worker_a, answer="已清理。")
    old_open = add(world.building_a, LAMP, 40, now)  # still open: still a candidate
    recent = [add(world.building_a, t, d, now) for t, d in ((LITTER_SHORT, 2), (LAMP_BROKEN, 1))]
    gone = add(world.building_a, LITTER, 0.5, now)
    actions.withdraw_demand(gone)  # recent, but never a candidate again
    assert hot.link_pending(now=now) == 4
    assert keys_of([gone]) == {gone.pk}
    (group,) = assert_same_groups(now)
    assert [m.pk for m in group.members] == [old_open.pk, recent[1].pk]
    # Out of every window: not looked at every minute; on request each in a group of its
    # own, in bulk.
    assert not HotLink.objects.filter(demand__in=[old_done, old_closed]).exists()
    assert hot.link_pending(now=now, everything=True) == 2
    assert keys_of([old_done]) == {old_done.pk} and keys_of([old_closed]) == {old_closed.pk}
    assert hot.link_pending(now=now, everything=True) == 0
    assert_same_groups(now)


@pytest.mark.django_db
def test_a_demand_entered_late_joins_the_group_of_later_ones(world):
    now = timezone.now()
    later = add(world.building_a, BOXES, 1, now)
    hot.link_pending(now=now)
    earlier = add(world.building_a, LITTER, 5, now)  # typed in afterwards, dated back
    assert hot.link_pending(now=now) == 1
    (group,) = assert_same_groups(now)
    assert [m.pk for m in group.members] == [earlier.pk, later.pk]
    assert keys_of([later, earlier]) == {later.pk}  # the smallest pk


@pytest.mark.django_db
def test_demands_not_linked_yet_are_in_no_group(world):
    add(world.building_a, LITTER, 2)
    add(world.building_a, BOXES, 1)
    assert hot.stored_groups(Demand.objects.all()) == []
    assert len(hot.hot_groups(Demand.objects.all())) == 1


@pytest.mark.django_db
def test_stored_groups_take_one_query_however_many_rows(world, django_assert_num_queries):
    now = timezone.now()
    add(world.building_a, LITTER, 3, now)
    add(world.building_a, BOXES, 2, now)
    hot.link_pending(now=now)
    with django_assert_num_queries(1):
        assert len(hot.stored_groups(Demand.objects.all(), now=now)) == 1
    street_of_demands(world, now)
    for i in range(30):
        add(world.building_a, DOG, 20 - i / 2, now)
        add(world.household_b1, LAMP, 20 - i / 2, now)
    hot.link_pending(now=now)
    with django_assert_num_queries(1):
        groups = hot.stored_groups(Demand.objects.all(), now=now)
    assert [g.count for g in groups] == [31, 30, 5, 2, 2, 2]
    with django_assert_num_queries(1):
        top = hot.stored_groups(Demand.objects.all(), now=now, limit=2)
    assert top == groups[:2]
    assert_same_groups(now)


@pytest.mark.django_db
def test_the_background_task_and_the_command_link_everything(world):
    for text, days in ((LITTER, 3), (BOXES, 2), (LAMP, 1)):
        add(world.building_a, text, days)
    queued, what = tasks.enqueue_link()  # the tests' immediate backend runs it now
    assert queued and "queued hot-topic linking" in what
    assert HotLink.objects.count() == 3
    add(world.building_a, LITTER_SHORT, 0.5)
    out = StringIO()
    call_command("link_hot_topics", stdout=out)
    assert "热点问题归组完成：1 件诉求" in out.getvalue()
    assert HotLink.objects.count() == 4
    old = add(world.building_a, DOG, 90)
    actions.withdraw_demand(old)
    call_command("link_hot_topics", "--all", stdout=out)
    assert keys_of([old]) == {old.pk}
    assert tasks.link_hot_topics_task.call() == 0
    assert_same_groups()


@pytest.mark.django_db
def test_the_task_is_not_queued_twice(world, settings):
    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    assert tasks.enqueue_link()[0]
    queued, what = tasks.enqueue_link()
    assert not queued and "queued for" in what


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_linkers_at_once_leave_one_consistent_result(world):
    now = timezone.now()
    texts = [LITTER, LAMP, BOXES, CHARGING, LAMP_BROKEN, LEAK, LITTER_SHORT, DOG, LEAK]
    for round_ in range(4):
        for i, text in enumerate(texts):
            add(world.building_a, text, 20 - round_ * 5 - i / 10, now)
            add(world.household_b1, text, 20 - round_ * 5 - i / 10, now)
    start = threading.Barrier(2)
    results, errors = [], []

    def link():
        try:
            start.wait()
            results.append(hot.link_pending(now=now, batch=1000))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=link) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == Demand.objects.count() == HotLink.objects.count() == 72
    groups = assert_same_groups(now)
    assert [g.count for g in groups] == [12, 12, 8, 8, 8, 8, 4, 4, 4, 4]
    for group in groups:
        assert keys_of(m.pk for m in group.members) == {min(m.pk for m in group.members)}


@pytest.mark.django_db
def test_a_links_standing_follows_its_demand(world):
    """The board counts groups from the links alone, so each link's standing follows the
    state of its demand through every step: an old case counts while it is open, not
    once it is done, again when the resident's 不满意 reopens it, never once merged."""
    now = timezone.now()
    old = add(world.building_a, LITTER, 40, now)  # before the window: counts while open
    recent = add(world.building_a, LITTER, 2, now)
    other = add(world.building_a, LITTER_SHORT, 1, now)
    hot.link_pending(now=now)

    def standing(demand):
        return HotLink.objects.get(demand=demand).standing

    assert standing(old) == Standing.OPEN
    assert [g.count for g in assert_same_groups()] == [3]
    actions.dispatch_demand(old, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(old, by=world.grid_worker_a, answer="已清理。")
    assert standing(old) == Standing.DONE
    assert [g.count for g in assert_same_groups()] == [2]
    actions.record_return_visit(old, by=world.worker_a, satisfaction="dissatisfied")
    assert standing(old) == Standing.OPEN
    assert [g.count for g in assert_same_groups()] == [3]
    actions.merge_demand(other, into=recent, by=world.worker_a)
    assert standing(other) == Standing.GONE
    assert [g.count for g in assert_same_groups()] == [2]


@pytest.mark.django_db
def test_a_new_demand_is_linked_with_the_standing_it_has_then(world):
    now = timezone.now()
    done = add(world.building_a, LITTER, 3, now)
    actions.dispatch_demand(done, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(done, by=world.grid_worker_a, answer="已清理。")
    gone = add(world.building_a, BOXES, 2, now)
    actions.withdraw_demand(gone)
    still = add(world.building_a, LITTER_SHORT, 1, now)
    hot.link_pending(now=now)
    assert {d.pk: HotLink.objects.get(demand=d).standing for d in (done, gone, still)} == {
        done.pk: Standing.DONE,
        gone.pk: Standing.GONE,
        still.pk: Standing.OPEN,
    }
    assert [g.count for g in assert_same_groups(now)] == [2]


@pytest.mark.django_db
def test_the_boards_count_reads_no_demand(world):
    """The top groups of some communities are counted on the links' covering index: the
    demands table is read only for the members of the groups chosen."""
    now = timezone.now()
    street_of_demands(world, now)
    hot.link_pending(now=now)
    communities = list(Area.objects.filter(level=Level.COMMUNITY).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as ctx:
        groups = hot.stored_groups(Demand.objects.all(), now=now, communities=communities, limit=1)
    assert len(ctx.captured_queries) == 1 and len(groups) == 1
    sql = ctx.captured_queries[0]["sql"]
    counting = sql[sql.index("IN (SELECT") : sql.index("GROUP BY")]
    assert "board_hotlink" in counting and "demands_demand" not in counting


@pytest.mark.django_db
def test_the_boards_briefs_take_four_queries_however_many_rows(world, django_assert_num_queries):
    now = timezone.now()
    communities = list(Area.objects.filter(level=Level.COMMUNITY).values_list("pk", flat=True))
    street_of_demands(world, now)
    hot.link_pending(now=now)

    def briefs():
        return hot.stored_briefs(Demand.objects.all(), communities=communities, now=now)

    with django_assert_num_queries(4):
        few = briefs()
    for i in range(30):
        add(world.building_a, DOG, 20 - i / 2, now)
    hot.link_pending(now=now)
    with django_assert_num_queries(4):
        many = briefs()
    assert [b.count for b in many] == [31, *[b.count for b in few][:4]]
