import pytest
from django.urls import reverse


@pytest.mark.parametrize(
    "who",
    [
        "admin",
        "district_office",
        "street_office",
        "worker_a",
        "grid_worker_a",
        "cadre_a",
        "party_member_a",
        "resident_user_a",
    ],
)
def test_it_renders_home_for_every_role(client, world, who):
    client.force_login(world.users()[who])
    r = client.get(reverse("home"))
    assert r.status_code == 200
    assert "您好" in r.content.decode()
