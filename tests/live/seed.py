"""What the live tests need in a scratch database, made in a process of its own:
``manage.py shell -c "from tests.live.seed import main; main()"`` with the scratch
environment. (The pytest-django test database would not do: the app servers cannot see
its uncommitted transaction.)

One street with one community and a household in it, the seeded categories (they come
with the migrations), a community worker who is the community's responsible person (so
every new demand notifies her), a street office user who is the street's responsible
person and holds an integration API key. Prints one JSON line for the test."""

from __future__ import annotations

import json

from django.db import transaction

from tongxin.accounts.models import User, UserRole
from tongxin.api.models import ApiToken
from tongxin.areas.models import Area, Level, Responsibility, Role
from tongxin.demands.models import Category


def _user(username: str, role: str, area: Area) -> User:
    user = User(username=username, role=role, area=area, full_name=username)
    user.set_unusable_password()  # nobody signs in; no slow password hashing either
    user.save()
    return user


@transaction.atomic
def seed() -> dict:
    district = Area.add_root(name="大安区", level=Level.DISTRICT)
    street = district.add_child(name="龙井街", level=Level.STREET)
    community = street.add_child(name="仁和社区", level=Level.COMMUNITY)
    estate = community.add_child(name="仁和家园", level=Level.ESTATE)
    building = estate.add_child(name="1栋", level=Level.BUILDING)
    household = building.add_child(name="1单元101室", level=Level.HOUSEHOLD, unit="1", room="101")
    worker = _user("live_worker", UserRole.COMMUNITY_WORKER, community)
    street_office = _user("live_street", UserRole.STREET_OFFICE, street)
    Responsibility.objects.create(
        area=community, user=worker, role=Role.COMMUNITY_SECRETARY, position=1
    )
    Responsibility.objects.create(
        area=street, user=street_office, role=Role.STATION_CADRE, position=1
    )
    _token, key = ApiToken.issue(
        name="live tests", user=street_office, kind=ApiToken.Kind.INTEGRATION
    )
    category = Category.objects.get(code="environment")  # no extra questions
    return {
        "community": community.pk,
        "household": household.pk,
        "category_id": category.pk,
        "category_code": category.code,
        "api_key": key,
        "worker": worker.pk,
        "street_office": street_office.pk,
    }


def main() -> None:
    print("SEED " + json.dumps(seed()))
