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


def test_administrators_are_warned_of_a_year_without_holiday_data(client, world):
    import time_machine

    with time_machine.travel("2026-11-25 10:00 +0800"):
        client.force_login(world.admin)
        body = client.get(reverse("home")).content.decode()
        assert "2027年" in body and "工作日历" in body
        client.force_login(world.worker_a)
        assert "2027年" not in client.get(reverse("home")).content.decode()


def test_error_pages_are_in_chinese(client, world, settings):
    settings.DEBUG = False
    client.force_login(world.worker_a)
    r = client.get(reverse("people:detail", args=[world.resident_b1.pk]))
    assert r.status_code == 404 and "页面不存在或您无权查看" in r.content.decode()
    r = client.get(reverse("users"))
    assert r.status_code == 403 and "没有进行此操作的权限" in r.content.decode()


def test_the_favicon_is_served(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 301 and r["Location"].endswith("favicon.svg")


def test_home_shows_what_waits_in_the_demand_loop(client, world):
    from tongxin.demands.testing import submit

    submit(world.household_a1)
    client.force_login(world.worker_a)
    body = client.get(reverse("home")).content.decode()
    assert "待派单" in body and "代录诉求" in body
    assert 'href="/demands/?tab=dispatch"' in body
    client.force_login(world.party_member_a)
    body = client.get(reverse("home")).content.decode()
    assert "可认领" in body and "代录诉求" not in body
