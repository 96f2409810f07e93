"""The top bar is drawn once per server process for each user, language, section and
unread count (templates/base.html, the "fragments" cache): whatever it shows must still
follow the user, their name and role, their messages and the language."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tongxin.accounts.models import UserRole
from tongxin.demands.models import Notification
from tongxin.demands.notify import notify

pytestmark = pytest.mark.django_db


def nav(response) -> str:
    body = response.content.decode()
    return body[body.index("<nav") : body.index("</nav>")]


def test_each_user_sees_their_own_bar(client, world):
    client.force_login(world.worker_a)
    first = nav(client.get(reverse("demands:work")))
    client.force_login(world.party_member_a)
    second = nav(client.get(reverse("demands:work")))
    assert "社工甲" in first and "社工甲" not in second
    assert world.party_member_a.full_name in second
    assert reverse("demands:claim") in second and reverse("demands:claim") not in first
    assert reverse("demands:ledger") in first and reverse("demands:ledger") not in second


def test_the_bar_follows_the_users_messages_name_and_role(client, world):
    client.force_login(world.worker_a)
    page = reverse("demands:work")
    assert 'id="nav-unread"' not in nav(client.get(page))
    notify(world.worker_a, "新的诉求")
    assert 'id="nav-unread">1<' in nav(client.get(page))
    Notification.objects.filter(user=world.worker_a).update(read_at=timezone.now())
    assert 'id="nav-unread"' not in nav(client.get(page))

    world.worker_a.full_name = "社工甲乙"
    world.worker_a.save(update_fields=["full_name"])
    assert "社工甲乙" in nav(client.get(page))

    world.worker_a.role = UserRole.CADRE
    world.worker_a.save(update_fields=["role"])
    assert "社工甲乙 · 机关干部" in nav(client.get(page))


def test_the_bar_marks_the_section_and_speaks_the_language(client, world, english):
    client.force_login(world.worker_a)
    ledger = nav(client.get(reverse("demands:ledger")))
    work = nav(client.get(reverse("demands:work")))
    active = 'class="nav-link active" href="{}"'
    assert active.format(reverse("demands:ledger")) in ledger
    assert active.format(reverse("demands:work")) in work
    client.cookies[english] = "en"
    in_english = nav(client.get(reverse("demands:ledger")))
    assert ">Ledger</a>" in in_english and "台账" not in in_english


def test_the_unread_count_is_read_with_the_user(client, world):
    """No query of its own: it comes in the signed-in user's row (accounts.backends)."""
    notify(world.worker_a, "新的诉求")
    notify(world.worker_a, "又一条")
    client.force_login(world.worker_a)
    with CaptureQueriesContext(connection) as ctx:
        bar = nav(client.get(reverse("demands:work")))
    assert 'id="nav-unread">2<' in bar
    counted = [q["sql"] for q in ctx.captured_queries if "demands_notification" in q["sql"]]
    assert len(counted) == 1 and 'FROM "accounts_user"' in counted[0], counted
