"""Every world user, through the API: exactly their scope, as on the pages; the rows
of another scope answer 404; personal data leaves only masked."""

from __future__ import annotations

import pytest

from tongxin.accounts.scope import scope_for
from tongxin.testing import ID_A1, ID_A2, ID_B1

from .conftest import body

USERS = [
    "admin",
    "district_office",
    "street_office",
    "worker_a",
    "worker_b",
    "grid_worker_a",
    "cadre_a",
    "party_member_a",
    "resident_user_a",
]
WHOLE = [ID_A1, ID_A2, ID_B1, "13800001234", "13900005678", "13700009999", "13600001111"]
STAFF = {
    "admin",
    "district_office",
    "street_office",
    "worker_a",
    "worker_b",
    "grid_worker_a",
    "cadre_a",
}


def ids(api_world, who: str, path: str) -> set[int]:
    response = api_world.get(who, path + ("&" if "?" in path else "?") + "page_size=100")
    assert response.status_code == 200, response.content
    return {item["id"] for item in body(response)["items"]}


@pytest.mark.parametrize("who", USERS)
def test_it_lists_exactly_the_scope(api_world, who):
    user = api_world.world.users()[who]
    scope = scope_for(user)
    assert ids(api_world, who, "/areas") == set(scope.areas().values_list("pk", flat=True))
    assert ids(api_world, who, "/demands") == set(scope.demands(user).values_list("pk", flat=True))
    if who in STAFF:
        assert ids(api_world, who, "/residents") == set(
            scope.residents().values_list("pk", flat=True)
        )
    else:
        assert api_world.get(who, "/residents").status_code == 403


def test_it_gives_each_community_worker_only_their_community(api_world):
    w = api_world.world
    assert ids(api_world, "worker_a", "/residents") == {w.resident_a1.pk, w.resident_a2.pk}
    assert ids(api_world, "worker_b", "/residents") == {w.resident_b1.pk}
    assert ids(api_world, "worker_a", "/demands") == {api_world.demand_a.pk}
    assert ids(api_world, "worker_b", "/demands") == {api_world.demand_b.pk}
    assert ids(api_world, "admin", "/demands") == {api_world.demand_a.pk, api_world.demand_b.pk}


@pytest.mark.parametrize("who", ["worker_a", "grid_worker_a", "cadre_a", "resident_user_a"])
def test_it_answers_404_for_another_scope(api_world, who):
    w = api_world.world
    for path in (
        f"/residents/{w.resident_b1.pk}",
        f"/demands/{api_world.demand_b.pk}",
        f"/areas/{w.community_b.pk}",
        "/residents/987654321",
    ):
        response = api_world.get(who, path)
        assert response.status_code == 404, path
        assert body(response)["error"]["code"] == "not_found"


def test_it_shows_a_resident_their_own_household_only(api_world):
    w = api_world.world
    assert api_world.get("resident_user_a", f"/residents/{w.resident_a1.pk}").status_code == 200
    assert api_world.get("resident_user_a", f"/residents/{w.resident_a2.pk}").status_code == 404
    assert ids(api_world, "resident_user_a", "/demands") == {api_world.demand_a.pk}


def test_it_shows_internal_notes_to_staff_and_public_steps_to_the_reporter(api_world):
    path = f"/demands/{api_world.demand_a.pk}"
    staff = body(api_world.get("worker_a", path))["events"]
    resident = body(api_world.get("resident_user_a", path))["events"]
    assert any(e["text"] == "内部记录：已联系物业" for e in staff)
    assert all(e["public"] for e in resident) and resident
    assert "内部记录" not in api_world.get("resident_user_a", path).content.decode()


def test_it_masks_the_register(api_world):
    w = api_world.world
    data = body(api_world.get("worker_a", f"/residents/{w.resident_a1.pk}"))
    assert data["id_number_masked"] == "510***********1233"
    assert data["phone_masked"] == "138****1234"
    assert body(api_world.get("worker_a", f"/demands/{api_world.demand_a.pk}"))["reporter"] == "张*"


@pytest.mark.parametrize("who", USERS)
def test_it_never_serves_a_whole_id_number_or_phone(api_world, who):
    w = api_world.world
    paths = ["/areas", "/residents", "/demands", "/categories", "/metrics"]
    paths += [f"/residents/{r.pk}" for r in (w.resident_a1, w.resident_a2, w.resident_b1)]
    paths += [f"/demands/{d.pk}" for d in (api_world.demand_a, api_world.demand_b)]
    paths += [f"/residents?q={q}" for q in ("1380000", "5103211980", "zs", "张")]
    for path in paths:
        text = api_world.get(who, path).content.decode()
        for whole in WHOLE:
            assert whole not in text, (who, path, whole)


def test_it_computes_metrics_over_the_scope_only(api_world):
    a = body(api_world.get("worker_a", "/metrics"))
    admin = body(api_world.get("admin", "/metrics"))
    assert (a["collected"], admin["collected"]) == (1, 2)
    assert api_world.get("resident_user_a", "/metrics").status_code == 403
    assert (
        api_world.get(
            "worker_a", f"/metrics?community={api_world.world.community_b.pk}"
        ).status_code
        == 404
    )


def test_it_filters_lists(api_world):
    w = api_world.world
    assert ids(api_world, "admin", f"/demands?community={w.community_b.pk}") == {
        api_world.demand_b.pk
    }
    assert ids(api_world, "admin", "/demands?state=closed") == set()
    assert ids(api_world, "worker_a", "/residents?tag=elderly_alone") == {w.resident_a2.pk}
    assert ids(api_world, "admin", f"/residents?area={w.community_b.pk}") == {w.resident_b1.pk}
    assert ids(api_world, "admin", f"/areas?parent={w.street.pk}") == {
        w.community_a.pk,
        w.community_b.pk,
    }
    page = body(api_world.get("admin", "/areas?page_size=2"))
    assert page["next_page"] == 2 and len(page["items"]) == 2


def test_it_lists_demands_in_a_fixed_number_of_queries(api_world, django_assert_max_num_queries):
    from tongxin.demands.testing import submit

    for _ in range(5):
        submit(api_world.world.household_a2)
    # The limiter (the address's failed keys, the key's count), the key with its user
    # and area, the count, the page; at most once a minute, the limiter's cleanup and
    # the key's time of last use.
    with django_assert_max_num_queries(7):
        response = api_world.get("worker_a", "/demands")
    assert body(response)["count"] == 6
