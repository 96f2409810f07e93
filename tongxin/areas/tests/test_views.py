import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Responsibility, Role
from tongxin.audit.models import AuditEntry
from tongxin.testing import make_user


@pytest.fixture
def second(world):
    user = make_user("gw2", UserRole.GRID_WORKER, world.grid_a, "网格员乙")
    return Responsibility.objects.create(
        area=world.grid_a, user=user, role=Role.GRID_WORKER, position=2
    )


def now_text(client, area):
    body = client.get(reverse("areas:detail", args=[area.pk])).content.decode()
    start = body.index('id="responsible-now"')
    return body[start : body.index("</p>", start)]


def test_it_shows_the_chain_and_who_answers_now(client, world, second):
    client.force_login(world.worker_a)
    assert "网格员甲" in now_text(client, world.grid_a)


def test_marking_the_first_absent_hands_over_to_the_next_on_the_page(client, world, second):
    client.force_login(world.worker_a)
    first = world.grid_a.responsibilities.get(position=1)
    today = timezone.localdate()
    r = client.post(
        reverse("areas:chain_absence", args=[world.grid_a.pk, first.pk]),
        {
            "absent_from": today - dt.timedelta(days=1),
            "absent_until": today + dt.timedelta(days=5),
            "absence_reason": "病假",
        },
    )
    assert r.status_code == 302
    text = now_text(client, world.grid_a)
    assert "网格员乙" in text and "网格员甲" not in text
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CHANGE).count() == 1
    client.post(reverse("areas:chain_back", args=[world.grid_a.pk, first.pk]))
    assert "网格员甲" in now_text(client, world.grid_a)


def test_it_rejects_an_absence_that_ends_before_it_starts(client, world, second):
    client.force_login(world.worker_a)
    first = world.grid_a.responsibilities.get(position=1)
    r = client.post(
        reverse("areas:chain_absence", args=[world.grid_a.pk, first.pk]),
        {
            "absent_from": "2026-12-10",
            "absent_until": "2026-12-01",
            "absence_reason": "",
        },
    )
    assert r.status_code == 200
    assert "不能早于" in r.content.decode()
    first.refresh_from_db()
    assert first.absent_from is None


def test_it_names_the_level_above_when_the_chain_is_exhausted(client, world):
    client.force_login(world.worker_a)
    first = world.grid_a.responsibilities.get(position=1)
    first.absent_from = timezone.localdate()
    first.save()
    boss = make_user("sec", UserRole.COMMUNITY_WORKER, world.community_a, "书记甲")
    Responsibility.objects.create(area=world.community_a, user=boss, role=Role.COMMUNITY_SECRETARY)
    text = now_text(client, world.building_a)
    assert "书记甲" in text and "仁和社区" in text


def test_moving_up_swaps_positions(client, world, second):
    client.force_login(world.worker_a)
    client.post(reverse("areas:chain_up", args=[world.grid_a.pk, second.pk]))
    second.refresh_from_db()
    assert second.position == 1
    assert world.grid_a.responsibilities.get(position=2).user.full_name == "网格员甲"


def test_adding_a_person_appends_to_the_chain(client, world):
    client.force_login(world.worker_a)
    extra = make_user("lh", UserRole.PARTY_MEMBER, world.community_a, "联户长丙")
    client.post(
        reverse("areas:chain_add", args=[world.grid_a.pk]),
        {"user": extra.pk, "role": Role.HOUSEHOLD_LIAISON},
    )
    assert world.grid_a.responsibilities.get(position=2).user == extra


def test_a_worker_of_b_cannot_see_or_change_a_grid_of_a(client, world):
    client.force_login(world.worker_b)
    first = world.grid_a.responsibilities.get(position=1)
    assert client.get(reverse("areas:detail", args=[world.grid_a.pk])).status_code == 404
    r = client.post(
        reverse("areas:chain_absence", args=[world.grid_a.pk, first.pk]),
        {"absent_from": "2026-12-01"},
    )
    assert r.status_code == 404
    first.refresh_from_db()
    assert first.absent_from is None


def test_a_cadre_sees_the_chain_but_cannot_change_it(client, world):
    client.force_login(world.cadre_a)
    first = world.grid_a.responsibilities.get(position=1)
    body = client.get(reverse("areas:detail", args=[world.grid_a.pk])).content.decode()
    assert "网格员甲" in body and "登记离岗" not in body
    r = client.post(
        reverse("areas:chain_absence", args=[world.grid_a.pk, first.pk]),
        {"absent_from": "2026-12-01"},
    )
    assert r.status_code == 403


def test_the_tree_expands_one_level_at_a_time(client, world):
    client.force_login(world.street_office)
    body = client.get(reverse("areas:tree")).content.decode()
    assert "龙井街" in body and "仁和社区" not in body
    part = client.get(reverse("areas:children", args=[world.street.pk])).content.decode()
    assert "仁和社区" in part and "宏丰社区" in part and "<html" not in part


def test_the_tree_starts_at_the_users_own_area(client, world):
    client.force_login(world.worker_a)
    body = client.get(reverse("areas:tree")).content.decode()
    assert "仁和社区" in body and "龙井街" not in body
    assert client.get(reverse("areas:children", args=[world.community_b.pk])).status_code == 404


def test_residents_and_party_members_have_no_tree(client, world):
    for user in (world.resident_user_a, world.party_member_a):
        client.force_login(user)
        assert client.get(reverse("areas:tree")).status_code == 403
        assert client.get(reverse("areas:detail", args=[world.grid_a.pk])).status_code == 404
