from django.urls import reverse


def test_it_shows_the_organisations_of_the_scope_with_member_counts(client, world):
    client.force_login(world.street_office)
    body = client.get(reverse("party:tree")).content.decode()
    assert "龙井街党工委" in body and "仁和社区第一支部" in body and "宏丰社区第一支部" in body
    assert "1 名党员" in body


def test_a_community_worker_sees_only_their_communitys_branches(client, world):
    client.force_login(world.worker_a)
    body = client.get(reverse("party:tree")).content.decode()
    assert "仁和社区第一支部" in body and "宏丰社区第一支部" not in body
    assert client.get(reverse("party:detail", args=[world.branch_b.pk])).status_code == 404


def test_member_phones_are_masked(client, world):
    client.force_login(world.party_member_a)
    body = client.get(reverse("party:detail", args=[world.branch_a.pk])).content.decode()
    assert "党员甲" in body and "136****1111" in body and "13600001111" not in body


def test_residents_see_no_party_organisations(client, world):
    client.force_login(world.resident_user_a)
    assert client.get(reverse("party:tree")).status_code == 403
    assert client.get(reverse("party:detail", args=[world.branch_a.pk])).status_code == 404


def test_the_tree_page_needs_a_constant_number_of_queries(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.admin)
    with django_assert_max_num_queries(8):
        client.get(reverse("party:tree"))
