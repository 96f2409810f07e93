"""The home page's register summary: residents, households and each care tag counted
within the user's scope."""

from __future__ import annotations

import re

from tongxin.accounts.scope import scope_for
from tongxin.people.counts import tag_counts
from tongxin.people.models import CareTag, Resident


def test_each_care_tag_is_counted_once_per_resident_who_has_it(world):
    tagsets = [
        ["hardship"],
        ["elderly_alone", "disabled"],
        ["disabled"],
        [],
        ["disabled", "hardship"],
    ]
    for n, tags in enumerate(tagsets):
        resident = Resident(name=f"居民{n}", household=world.household_b1)
        resident.tag_list = tags
        resident.save()
    for user in (world.street_office, world.worker_a, world.worker_b):
        residents = scope_for(user).residents()
        expected = {t: residents.filter(tags__contains=f"|{t}|").count() for t in CareTag.values}
        got = {t: tag_counts(residents).get(t, 0) for t in CareTag.values}
        assert got == expected
    counts = tag_counts(scope_for(world.worker_b).residents())
    # 王五 (subsistence) and the five above.
    assert (counts["disabled"], counts["hardship"], counts["subsistence"]) == (3, 2, 1)
    assert counts["elderly_alone"] == 1 and "unemployed" not in counts


def test_the_home_page_shows_the_counts(client, world):
    client.force_login(world.worker_a)
    page = client.get("/").content.decode()
    shown = dict(re.findall(r'\?tag=(\w+)">[^<]*<span class="badge[^"]*">(\d+)</span>', page))
    # 张三 (hardship) and 李淑芬 (elderly_alone) live in 仁和社区; 王五 does not.
    assert len(shown) == len(CareTag.values)
    assert (shown["hardship"], shown["elderly_alone"], shown["subsistence"]) == ("1", "1", "0")


def _shown(client) -> tuple[str, str]:
    page = client.get("/").content.decode()
    residents = re.search(r'居民人数</div><div class="tx-stat">([\d,]+)</div>', page)
    households = re.search(r'户数</div><div class="tx-stat">([\d,]+)</div>', page)
    return residents[1], households[1]


def test_the_counts_are_kept_and_a_change_shows_at_once(
    client, world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.worker_a)
    residents, households = _shown(client)
    with CaptureQueriesContext(connection) as again:
        assert _shown(client) == (residents, households)
    # Kept: the second page counts no resident and no household.
    assert not [q for q in again.captured_queries if "people_resident" in q["sql"]]
    # A resident added (as the resident form saves one): counted on the next page.
    with django_capture_on_commit_callbacks(execute=True):
        Resident.objects.create(name="新居民", household=world.household_a2)
    assert _shown(client)[0] == str(int(residents) + 1)
    # A household added, then a resident removed.
    with django_capture_on_commit_callbacks(execute=True):
        world.building_a.add_child(name="9单元101", level=world.household_a2.level)
    assert _shown(client)[1] == str(int(households) + 1)
    with django_capture_on_commit_callbacks(execute=True):
        Resident.objects.get(name="新居民").delete()
    assert _shown(client)[0] == residents
