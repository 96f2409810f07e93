from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tongxin.areas.models import Area
from tongxin.people.models import Resident
from tongxin.testing import household, valid_id


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_needs_the_same_queries_for_3_or_33_residents(client, world):
    client.force_login(world.worker_a)
    url = reverse("people:list") + "?tag=hardship"
    few = count_queries(client, url)
    for i in range(30):
        h = household(world.building_a, "3", f"{i + 100}")
        Resident.objects.create(
            name=f"居民{i}",
            household=h,
            id_number=valid_id(i),
            phone=f"1350000{i:04d}",
            tags="|hardship|",
        )
    assert count_queries(client, url) == few


def test_the_whole_lists_count_is_the_kept_one_and_follows_a_new_resident(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world.worker_a)
    url = reverse("people:list")
    residents = Resident.objects.filter(household__path__startswith=world.community_a.path)
    tagged = residents.filter(tags__contains="|elderly_alone|")
    client.get("/")  # the home page counts the register and keeps the figures
    for query, expected in (("", residents), ("?tag=elderly_alone", tagged)):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(url + query).context["page"]
        assert page.paginator.count == expected.count() > 0
        assert not [q for q in ctx.captured_queries if 'COUNT(*) AS "__count"' in q["sql"]]
    # A resident registered: the next list counts them (the kept figures moved on).
    with django_capture_on_commit_callbacks(execute=True):
        Resident.objects.create(
            name="新居民",
            household=world.household_a1,
            id_number=valid_id(77),
            tags="|elderly_alone|",
        )
    assert client.get(url).context["page"].paginator.count == residents.count()
    assert client.get(url + "?tag=elderly_alone").context["page"].paginator.count == (
        tagged.count()
    )
    # A search or a place is counted as it is asked.
    assert client.get(url, {"q": "张"}).context["page"].paginator.count == 1


def test_search_by_pinyin_initials_full_pinyin_phone_tail_and_room(client, world):
    client.force_login(world.worker_a)

    def names(q):
        return {r.name for r in client.get(reverse("people:list"), {"q": q}).context["page"]}

    assert names("zs") == {"张三"}
    assert names("ZS") == {"张三"}
    assert names("lishufen") == {"李淑芬"}
    assert names("5678") == {"李淑芬"}
    assert names("502") == {"李淑芬"}
    assert names("张") == {"张三"}
    assert names("仁和家园") == {"张三", "李淑芬"}


def test_the_tag_filter_and_htmx_partial(client, world):
    client.force_login(world.worker_a)
    r = client.get(
        reverse("people:list"),
        {"tag": "elderly_alone"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
    )
    body = r.content.decode()
    assert "李淑芬" in body and "张三" not in body and "<html" not in body


def test_an_empty_search_says_what_to_try(client, world):
    client.force_login(world.worker_a)
    body = client.get(reverse("people:list"), {"q": "nobody"}).content.decode()
    assert "拼音首字母" in body


def test_registering_a_resident_creates_the_household_once(client, world):
    client.force_login(world.worker_a)
    data = {
        "name": "赵六",
        "gender": "M",
        "birth_date": "",
        "id_number": valid_id(77),
        "phone": "13512345678",
        "building": world.building_a.pk,
        "unit": "4",
        "room": "401",
        "relation": "户主",
        "note": "",
        "care_tags": ["disabled"],
    }
    assert client.post(reverse("people:new"), data).status_code == 302
    data.update(name="赵七", id_number=valid_id(78), phone="")
    assert client.post(reverse("people:new"), data).status_code == 302
    six, seven = Resident.objects.get(name="赵六"), Resident.objects.get(name="赵七")
    assert six.household_id == seven.household_id
    assert six.household.name == "4单元401室" and six.tag_list == ["disabled"]
    assert six.name_initials == "zl"


def test_registering_with_a_bad_id_number_changes_nothing(client, world):
    client.force_login(world.worker_a)
    before = Resident.objects.count()
    data = {
        "name": "赵六",
        "id_number": "510321198001011234",
        "phone": "12345",
        "building": world.building_a.pk,
        "unit": "4",
        "room": "401",
    }
    r = client.post(reverse("people:new"), data)
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "校验位" in errors["id_number"][0] and "phone" in errors
    assert Resident.objects.count() == before


def test_registering_a_duplicate_id_number_is_refused(client, world):
    client.force_login(world.worker_a)
    data = {
        "name": "冒名",
        "id_number": world.resident_a1.id_number,
        "building": world.building_a.pk,
        "unit": "4",
        "room": "401",
    }
    r = client.post(reverse("people:new"), data)
    assert r.status_code == 200 and "id_number" in r.context["form"].errors
    assert not Resident.objects.filter(name="冒名").exists()


def test_a_worker_cannot_register_into_another_community(client, world):
    client.force_login(world.worker_a)
    building_b = Area.objects.get(name="5栋")
    data = {"name": "越界", "building": building_b.pk, "unit": "1", "room": "1"}
    r = client.post(reverse("people:new"), data)
    assert r.status_code == 200 and "building" in r.context["form"].errors
    assert not Resident.objects.filter(name="越界").exists()


def test_several_words_narrow_the_search(client, world):
    client.force_login(world.worker_a)

    def names(q):
        return {r.name for r in client.get(reverse("people:list"), {"q": q}).context["page"]}

    assert names("仁和家园 1栋 李") == {"李淑芬"}
    assert names("1栋 zs") == {"张三"}
    assert names("仁和家园 5栋") == set()


def test_the_place_filter_lists_the_first_places_in_the_trees_order(client, world, monkeypatch):
    from tongxin.areas.models import Level
    from tongxin.people import views

    client.force_login(world.district_office)
    places = Area.objects.filter(level__in=[Level.COMMUNITY, Level.ESTATE, Level.ZONE])
    in_order = list(places.order_by("path"))
    assert len(in_order) >= 3
    assert list(client.get(reverse("people:list")).context["areas"]) == in_order
    monkeypatch.setattr(views, "FILTER_AREAS", 2)
    assert list(client.get(reverse("people:list")).context["areas"]) == in_order[:2]
    client.force_login(world.worker_b)  # community B: itself and what lies in it
    shown = list(client.get(reverse("people:list")).context["areas"])
    assert shown == [a for a in in_order if a.path.startswith(world.community_b.path)][:2]


# sqlite_stat1 of areas_area in a district of 117,714 areas (bench/run --keep): the
# level index's average over its levels, 115,000 of them households.
DISTRICT_AREA_STATS = {
    "areas_area_level_d33873_idx": "117714 19619 1",
    "sqlite_autoindex_areas_area_1": "117714 1",
}


def test_the_place_filter_is_found_on_the_index_of_level_and_path(client, world):
    """The register's place filter of a district office: read on the index of level and
    path (SQLite walked the path index through every household of the district to find
    the first 300 communities, estates and grids: 30 ms a page at 117,000 areas)."""
    if connection.vendor != "sqlite":
        return  # PostgreSQL's plan needs a district's statistics (bench/README)
    client.force_login(world.district_office)
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("people:list"))
    (sql,) = [
        q["sql"]
        for q in ctx.captured_queries
        if 'FROM "areas_area"' in q["sql"] and "IN (30" in q["sql"]
    ]
    with connection.cursor() as cursor:
        try:
            cursor.execute("ANALYZE")
            cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'areas_area'")
            for index, stat in DISTRICT_AREA_STATS.items():
                cursor.execute(
                    "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('areas_area', %s, %s)",
                    [index, stat],
                )
            cursor.execute("ANALYZE sqlite_schema")  # reload the statistics
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(row[-1] for row in cursor.fetchall())
        finally:
            cursor.execute("DELETE FROM sqlite_stat1")
            cursor.execute("ANALYZE sqlite_schema")
    assert "areas_area_level_d33873_idx" in plan, plan
