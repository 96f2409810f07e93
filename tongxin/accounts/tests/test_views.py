import pytest
from django.urls import reverse

from tongxin.accounts.models import User, UserRole
from tongxin.audit.models import AuditEntry
from tongxin.testing import PASSWORD


def login(client, username, password):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="10.0.0.7"
    )


def test_it_signs_in_and_lands_on_home(client, world):
    r = login(client, "worker_a", PASSWORD)
    assert r.status_code == 302 and r["Location"] == reverse("home")


def test_a_wrong_password_shows_a_chinese_error(client, world):
    r = login(client, "worker_a", "wrong")
    assert r.status_code == 200
    assert "用户名或密码不正确" in r.content.decode()


def test_it_locks_out_after_repeated_failures(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "worker_a", "wrong")
    r = login(client, "worker_a", PASSWORD)
    assert r.status_code == 429
    assert "锁定" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_user_and_address(client, world, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "worker_a", "wrong")
    assert login(client, "worker_b", PASSWORD).status_code == 302


def test_pages_need_sign_in(client, world):
    for name in ("home", "people:list", "areas:tree", "party:tree", "users"):
        r = client.get(reverse(name))
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), name


@pytest.mark.parametrize(
    "who",
    [
        "district_office",
        "street_office",
        "worker_a",
        "grid_worker_a",
        "cadre_a",
        "party_member_a",
        "resident_user_a",
    ],
)
def test_only_administrators_manage_users(client, world, who):
    client.force_login(world.users()[who])
    assert client.get(reverse("users")).status_code == 403
    assert client.post(reverse("user_new"), {"username": "x"}).status_code == 403
    assert client.get(reverse("audit_log")).status_code == 403


def new_user_data(world, **over):
    data = {
        "username": "wg9",
        "full_name": "新网格员",
        "role": UserRole.GRID_WORKER,
        "area": world.grid_a.pk,
        "phone": "",
        "is_active": "on",
        "password": "Zq7!long-enough",
    }
    data.update(over)
    return data


def test_an_administrator_creates_a_user_with_role_and_area(client, world):
    client.force_login(world.admin)
    r = client.post(reverse("user_new"), new_user_data(world))
    assert r.status_code == 302
    user = User.objects.get(username="wg9")
    assert user.role == UserRole.GRID_WORKER and user.area == world.grid_a
    assert user.check_password("Zq7!long-enough")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.USER_ADMIN)
    assert "Zq7" not in entry.detail
    assert login(client, "wg9", "Zq7!long-enough").status_code == 302


@pytest.mark.parametrize(
    "over, field",
    [
        ({"area": ""}, "area"),  # a grid worker needs an area
        ({"role": UserRole.STREET_OFFICE}, "area"),  # a street office's area must be a street
        ({"password": ""}, "password"),  # a new user needs a password
        ({"password": "123"}, "password"),  # and a decent one
        ({"username": "worker_a"}, "username"),  # taken
    ],
)
def test_bad_user_input_changes_nothing(client, world, over, field):
    client.force_login(world.admin)
    before = User.objects.count()
    r = client.post(reverse("user_new"), new_user_data(world, **over))
    assert r.status_code == 200
    assert field in r.context["form"].errors
    assert User.objects.count() == before


def test_an_administrator_cannot_deactivate_themselves(client, world):
    client.force_login(world.admin)
    data = {
        "username": "admin",
        "full_name": "管理员",
        "role": UserRole.ADMIN,
        "area": "",
        "phone": "",
        "password": "",
    }
    r = client.post(reverse("user_edit", args=[world.admin.pk]), data)
    assert r.status_code == 200
    world.admin.refresh_from_db()
    assert world.admin.is_active


def test_editing_keeps_the_password_when_left_blank(client, world):
    client.force_login(world.admin)
    data = {
        "username": "worker_b",
        "full_name": "社工乙",
        "role": UserRole.COMMUNITY_WORKER,
        "area": world.community_b.pk,
        "phone": "",
        "is_active": "",
        "password": "",
    }
    assert client.post(reverse("user_edit", args=[world.worker_b.pk]), data).status_code == 302
    world.worker_b.refresh_from_db()
    assert not world.worker_b.is_active and world.worker_b.check_password(PASSWORD)


def test_the_audit_log_lists_whole_id_views(client, world):
    client.force_login(world.worker_a)
    client.post(reverse("people:reveal", args=[world.resident_a1.pk]))
    client.force_login(world.admin)
    body = client.get(reverse("audit_log")).content.decode()
    assert "查看完整个人信息" in body and "张三" in body and "社工甲" in body
