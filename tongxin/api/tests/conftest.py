from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.test import Client

from tongxin.api.models import ApiToken
from tongxin.demands import actions
from tongxin.demands.testing import submit
from tongxin.testing import World


@dataclass
class ApiWorld:
    world: World
    keys: dict[str, str]
    demand_a: object
    demand_b: object

    def get(self, who: str | None, path: str, **params):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.keys[who]}"} if who else {}
        return Client().get(f"/api/v1{path}", params, **headers)

    def post(self, who: str, path: str, body: dict, **headers):
        return Client().post(
            f"/api/v1{path}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.keys[who]}",
            **headers,
        )


@pytest.fixture
def api_world(world: World) -> ApiWorld:
    demand_a = submit(
        world.household_a1,
        reporter=world.resident_a1,
        reporter_name="张三",
        reporter_phone="13800001234",
    )
    actions.add_note(demand_a, by=world.worker_a, text="内部记录：已联系物业")
    demand_b = submit(
        world.household_b1,
        title="路灯不亮",
        reporter=world.resident_b1,
        reporter_name="王五",
        reporter_phone="13700009999",
    )
    keys = {}
    for name, user in world.users().items():
        _token, keys[name] = ApiToken.issue(name=f"key of {name}", user=user)
    return ApiWorld(world, keys, demand_a, demand_b)


def body(response) -> dict:
    return json.loads(response.content)
