import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tongxin.board import hot
from tongxin.demands import actions
from tongxin.demands.models import Demand, EventKind, State
from tongxin.demands.testing import submit

LITTER = ("3栋楼道堆满杂物", "3栋2单元楼道堆满纸箱和旧家具，影响通行。")
BOXES = ("3栋楼道里纸箱很多", "楼道里纸箱很多，没人清理，有消防隐患。")
LAMP = ("路灯不亮", "小区门口的路灯坏了一个星期，晚上出行很不安全。")
LITTER_SHORT = ("楼道堆杂物", "楼道杂物太多没人管。")
CHARGING = ("5栋楼道给电动车充电", "有住户把电动车推进楼道充电，飞线充电很危险。")
LAMP_BROKEN = ("小区门口路灯坏了", "门口路灯晚上不亮。")
LEAK = ("5栋楼道漏水", "楼上水管漏水，楼道地面全是水。")
DOG = ("楼下狗整天叫", "有住户养的狗整天叫，还在楼道大小便。")


def alike(a, b) -> bool:
    return hot.similar_pairs([a, b]) == [(0, 1)]


def test_it_groups_reports_of_the_same_problem():
    assert alike(LITTER, BOXES)
    assert alike(LITTER, LITTER_SHORT)
    assert alike(LAMP, LAMP_BROKEN)


def test_it_keeps_different_problems_apart():
    assert not alike(LAMP, LITTER_SHORT)
    assert not alike(LAMP, LITTER)
    # Same building and stairwell, different problem: the place alone is not enough.
    assert not alike(CHARGING, LEAK)
    assert not alike(LITTER, LEAK)
    assert not alike(DOG, LITTER)


def test_it_joins_alike_pairs_into_groups():
    texts = [LITTER, BOXES, LAMP, LITTER_SHORT, CHARGING, LAMP_BROKEN, LEAK, DOG]
    groups = hot.union_find(len(texts), hot.similar_pairs(texts))
    assert sorted(g for g in groups if len(g) > 1) == [[0, 1, 3], [2, 5]]


def test_it_finds_nothing_in_one_or_no_text():
    assert hot.similar_pairs([]) == []
    assert hot.similar_pairs([LAMP]) == []


def three_alike(world, community=None, area=None):
    """Three alike demands of the last days, linked as the background worker does."""
    area = area or world.building_a
    now = timezone.now()
    demands = [
        submit(area, title=t, description=d, now=now - dt.timedelta(days=3 - i))
        for i, (t, d) in enumerate([LITTER, BOXES, LITTER_SHORT])
    ]
    hot.link_pending()
    return demands


@pytest.mark.django_db
def test_it_groups_demands_of_one_community_in_the_window(world):
    a = three_alike(world)
    submit(world.building_a, title=LAMP[0], description=LAMP[1])
    old = submit(
        world.building_a,
        title=LITTER[0],
        description=LITTER[1],
        now=timezone.now() - dt.timedelta(days=60),
    )
    actions.withdraw_demand(old)  # out of the window and no longer open
    b = submit(world.household_b1, title=BOXES[0], description=BOXES[1])  # community B
    groups = hot.hot_groups(Demand.objects.all(), estates=hot.estates_within(None))
    assert [[m.pk for m in g.members] for g in groups] == [[d.pk for d in a]]
    assert groups[0].estate == "仁和家园" and groups[0].community == "仁和社区"
    assert b.pk not in {m.pk for g in groups for m in g.members}


@pytest.mark.django_db
def test_it_caps_the_demands_compared_per_community(world):
    three_alike(world)
    assert hot.hot_groups(Demand.objects.all(), cap=1) == []


# --- the staff page -------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_lists_the_groups_in_the_users_scope(client, world, django_assert_max_num_queries):
    a = three_alike(world)
    client.force_login(world.worker_a)
    with django_assert_max_num_queries(12):
        r = client.get(reverse("board:hot"))
    assert r.status_code == 200
    assert [m.pk for m in r.context["groups"][0].members] == [d.pk for d in a]
    client.force_login(world.worker_b)
    assert client.get(reverse("board:hot")).context["groups"] == []


@pytest.mark.django_db
def test_it_counts_the_groups_from_the_links_with_those_handled_elsewhere(client, world):
    """A staff member's groups are those of their area and those of the demands they
    handle elsewhere, as recounted over their scope; the groups are counted from the
    links, not over every demand of the area's history joined to its link (a district's
    million: seconds)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tongxin.accounts.scope import scope_for

    here = three_alike(world)
    now = timezone.now()
    there = [  # community B, handled by community A's worker
        submit(world.household_b1, title=t, description=d, now=now - dt.timedelta(days=i + 1))
        for i, (t, d) in enumerate([LAMP, LAMP_BROKEN])
    ]
    not_theirs = [  # community B too, alike, handled by nobody in A
        submit(world.household_b1, title=t, description=d, now=now - dt.timedelta(hours=i + 1))
        for i, (t, d) in enumerate([LEAK, LEAK])
    ]
    Demand.objects.filter(pk__in=[d.pk for d in there]).update(handler=world.worker_a)
    hot.link_pending()
    client.force_login(world.worker_a)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(reverse("board:hot"))
    shown = [[m.pk for m in g.members] for g in r.context["groups"]]
    assert shown == [[d.pk for d in here], [d.pk for d in reversed(there)]]
    recounted = hot.hot_groups(scope_for(world.worker_a).demands(world.worker_a))
    assert shown == [[m.pk for m in g.members] for g in recounted]
    assert not {d.pk for d in not_theirs} & {pk for g in shown for pk in g}
    sql = next(q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"])
    counting = sql[sql.index("IN (SELECT") : sql.index("GROUP BY")]
    assert 'FROM "board_hotlink"' in counting and "JOIN" not in counting, counting
    # A street office: the whole street from the links; the district's office likewise.
    for user in (world.street_office, world.district_office, world.admin):
        client.force_login(user)
        shown = [
            [m.pk for m in g.members] for g in client.get(reverse("board:hot")).context["groups"]
        ]
        recounted = hot.hot_groups(scope_for(user).demands(user))
        assert shown == [[m.pk for m in g.members] for g in recounted], user


@pytest.mark.django_db
def test_it_shows_the_groups_a_page_at_a_time(client, world, monkeypatch):
    from tongxin.board import views

    three = three_alike(world)
    now = timezone.now()
    lamps = [
        submit(world.building_a, title=t, description=d, now=now - dt.timedelta(hours=i + 1))
        for i, (t, d) in enumerate([LAMP, LAMP_BROKEN])
    ]
    hot.link_pending()
    monkeypatch.setattr(views, "HOT_PER_PAGE", 1)
    client.force_login(world.worker_a)

    def members(page) -> list[list[int]]:
        r = client.get(reverse("board:hot"), {"page": page})
        assert r.status_code == 200
        return [[m.pk for m in g.members] for g in r.context["groups"]], r.content.decode()

    first, body = members(1)
    assert first == [[d.pk for d in three]]  # the largest group first
    assert 'href="?page=2" rel="next"' in body and 'rel="prev"' not in body
    second, body = members(2)
    assert second == [[d.pk for d in sorted(lamps, key=lambda d: d.created_at)]]
    assert 'href="?page=1" rel="prev"' in body and 'rel="next"' not in body
    beyond, body = members(3)
    assert beyond == [] and "这一页没有了" in body and 'href="?page=1"' in body
    assert 'rel="prev"' not in body and 'rel="next"' not in body
    assert members("abc")[0] == first and members(0)[0] == first  # a bad page: the first


@pytest.mark.django_db
def test_it_is_for_staff_only(client, world):
    assert client.get(reverse("board:hot")).status_code == 302  # to sign-in
    client.force_login(world.resident_user_a)
    assert client.get(reverse("board:hot")).status_code == 403


@pytest.mark.django_db
def test_it_merges_a_group_into_the_earliest(client, world):
    first, second, third = three_alike(world)
    client.force_login(world.worker_a)
    r = client.post(reverse("board:merge"), {"pk": [third.pk, first.pk, second.pk]}, follow=True)
    assert "已把 2 件诉求合并到" in r.content.decode()
    for d in (second, third):
        d.refresh_from_db()
        assert (d.state, d.merged_into_id) == (State.MERGED, first.pk)
        assert d.events.filter(kind=EventKind.MERGED, actor=world.worker_a).exists()
    assert first.events.filter(kind=EventKind.MERGED).count() == 2
    first.refresh_from_db()
    assert first.state == State.SUBMITTED


@pytest.mark.django_db
def test_it_reports_the_ones_it_could_not_merge(client, world):
    first, second, third = three_alike(world)
    actions.dispatch_demand(second, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(second, by=world.grid_worker_a, answer="已清理。")
    client.force_login(world.worker_a)
    r = client.post(reverse("board:merge"), {"pk": [first.pk, second.pk, third.pk]}, follow=True)
    body = r.content.decode()
    assert "已把 1 件诉求合并到" in body
    assert f"未能合并 {second.number}" in body
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.state == State.RESOLVED and third.state == State.MERGED


@pytest.mark.django_db
def test_it_does_not_let_another_community_merge(client, world):
    a = three_alike(world)
    client.force_login(world.worker_b)
    r = client.post(reverse("board:merge"), {"pk": [d.pk for d in a]})
    assert r.status_code == 404
    assert not Demand.objects.filter(state=State.MERGED).exists()


@pytest.mark.django_db
def test_it_does_not_let_a_reader_merge(client, world):
    a = three_alike(world)
    client.force_login(world.cadre_a)  # sees community A, may not change it
    r = client.post(reverse("board:merge"), {"pk": [d.pk for d in a]})
    assert r.status_code == 403
    assert not Demand.objects.filter(state=State.MERGED).exists()


@pytest.mark.django_db
def test_it_refuses_a_group_of_one_or_garbage(client, world):
    (first, *_rest) = three_alike(world)
    client.force_login(world.worker_a)
    assert client.post(reverse("board:merge"), {"pk": [first.pk]}).status_code == 404
    assert client.post(reverse("board:merge"), {"pk": ["x", first.pk]}).status_code == 404
    assert client.get(reverse("board:merge")).status_code == 405
