"""Every role sees and changes exactly its scope, on the pages, by any URL."""

import pytest
from django.urls import reverse

from tongxin.audit.models import AuditEntry
from tongxin.testing import ID_A1, ID_B1

# who -> (residents seen in the list, residents whose page opens, residents they may change)
EXPECTED = {
    "admin": ({"a1", "a2", "b1"}, {"a1", "a2", "b1"}, {"a1", "a2", "b1"}),
    "district_office": ({"a1", "a2", "b1"}, {"a1", "a2", "b1"}, {"a1", "a2", "b1"}),
    "street_office": ({"a1", "a2", "b1"}, {"a1", "a2", "b1"}, {"a1", "a2", "b1"}),
    "worker_a": ({"a1", "a2"}, {"a1", "a2"}, {"a1", "a2"}),
    "worker_b": ({"b1"}, {"b1"}, {"b1"}),
    "grid_worker_a": ({"a1", "a2"}, {"a1", "a2"}, {"a1", "a2"}),
    "cadre_a": ({"a1", "a2"}, {"a1", "a2"}, set()),
    "party_member_a": (None, set(), set()),
    "resident_user_a": (None, {"a1"}, set()),
}


def residents(world):
    return {"a1": world.resident_a1, "a2": world.resident_a2, "b1": world.resident_b1}


@pytest.mark.parametrize("who", EXPECTED)
def test_it_lists_exactly_the_scope(client, world, who):
    client.force_login(world.users()[who])
    listed, _, _ = EXPECTED[who]
    r = client.get(reverse("people:list"))
    if listed is None:
        assert r.status_code == 403
        return
    assert r.status_code == 200
    shown = {
        k
        for k, res in residents(world).items()
        if reverse("people:detail", args=[res.pk]) in r.content.decode()
    }
    assert shown == listed


@pytest.mark.parametrize("who", EXPECTED)
def test_it_opens_only_pages_in_scope_even_by_guessed_url(client, world, who):
    client.force_login(world.users()[who])
    _, opens, _ = EXPECTED[who]
    for key, res in residents(world).items():
        r = client.get(reverse("people:detail", args=[res.pk]))
        assert r.status_code == (200 if key in opens else 404), (who, key)
        r = client.post(reverse("people:reveal", args=[res.pk]))
        assert r.status_code == (200 if key in opens else 404), (who, key)


@pytest.mark.parametrize("who", EXPECTED)
def test_it_changes_only_what_the_scope_allows(client, world, who):
    client.force_login(world.users()[who])
    _, opens, changes = EXPECTED[who]
    for key, res in residents(world).items():
        url = reverse("people:edit", args=[res.pk])
        data = {
            "name": res.name + "改",
            "gender": "",
            "birth_date": "",
            "id_number": res.id_number,
            "phone": res.phone,
            "relation": "",
            "note": "",
            "care_tags": [],
        }
        r = client.post(url, data)
        res.refresh_from_db()
        if key in changes:
            assert r.status_code == 302, (who, key, r.content[:500])
            assert res.name.endswith("改")
        else:
            assert r.status_code == (403 if key in opens else 404), (who, key)
            assert not res.name.endswith("改")


def test_it_masks_personal_data_in_the_list(client, world):
    client.force_login(world.worker_a)
    body = client.get(reverse("people:list")).content.decode()
    assert ID_A1 not in body and "13800001234" not in body
    assert "510***********1233" in body and "138****1234" in body


def test_it_masks_on_the_detail_page_until_revealed_and_logs_the_reveal(client, world):
    client.force_login(world.worker_a)
    res = world.resident_a1
    body = client.get(reverse("people:detail", args=[res.pk])).content.decode()
    assert ID_A1 not in body
    assert AuditEntry.objects.count() == 0
    r = client.post(
        reverse("people:reveal", args=[res.pk]),
        REMOTE_ADDR="10.1.2.3",
        HTTP_USER_AGENT="TestBrowser/1.0",
    )
    assert ID_A1 in r.content.decode() and "13800001234" in r.content.decode()
    entry = AuditEntry.objects.get()
    assert entry.user == world.worker_a
    assert entry.action == AuditEntry.Action.VIEW_PERSONAL_DATA
    assert entry.target == f"people.resident:{res.pk}"
    assert entry.ip == "10.1.2.3" and entry.user_agent == "TestBrowser/1.0"


def test_a_worker_of_community_a_gets_404_for_a_resident_of_b(client, world):
    client.force_login(world.worker_a)
    assert client.get(reverse("people:detail", args=[world.resident_b1.pk])).status_code == 404
    assert client.post(reverse("people:reveal", args=[world.resident_b1.pk])).status_code == 404
    assert not AuditEntry.objects.filter(target__endswith=f":{world.resident_b1.pk}").exists()
    body = client.get(reverse("people:list") + "?q=" + ID_B1[:8]).content.decode()
    assert "王五" not in body


def test_it_refuses_an_area_filter_outside_the_scope(client, world):
    client.force_login(world.worker_a)
    r = client.get(reverse("people:list") + f"?area={world.community_b.pk}")
    assert r.status_code == 404


def test_the_world_uses_valid_id_numbers(world):
    from stdnum.cn import ric

    for r in (world.resident_a1, world.resident_a2, world.resident_b1):
        assert ric.is_valid(r.id_number)
