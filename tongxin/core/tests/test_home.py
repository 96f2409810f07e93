"""The home page's register summary: residents, households and each care tag counted
within the user's scope."""

from __future__ import annotations

import re

from tongxin.accounts.scope import scope_for
from tongxin.core.views import tag_counts
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
        got = {tag: count for tag, _label, count in tag_counts(residents)}
        assert got == expected
    counts = {
        tag: count for tag, _label, count in tag_counts(scope_for(world.worker_b).residents())
    }
    # 王五 (subsistence) and the five above.
    assert (counts["disabled"], counts["hardship"], counts["subsistence"]) == (3, 2, 1)
    assert counts["elderly_alone"] == 1 and counts["unemployed"] == 0


def test_the_home_page_shows_the_counts(client, world):
    client.force_login(world.worker_a)
    page = client.get("/").content.decode()
    shown = dict(re.findall(r'\?tag=(\w+)">[^<]*<span class="badge[^"]*">(\d+)</span>', page))
    # 张三 (hardship) and 李淑芬 (elderly_alone) live in 仁和社区; 王五 does not.
    assert len(shown) == len(CareTag.values)
    assert (shown["hardship"], shown["elderly_alone"], shown["subsistence"]) == ("1", "1", "0")
