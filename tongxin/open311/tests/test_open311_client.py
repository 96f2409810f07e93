"""THE client test: a GeoReport v2 client written to the specification lists
services, reads a definition, posts a request, and reads it back by id and by token,
over real HTTP, in XML and in JSON; the request is in the ledger, and the loop's
answer comes back as status_notes."""

import pytest
from django.urls import reverse

from tongxin.api.models import ApiToken
from tongxin.demands import actions
from tongxin.demands.models import Channel, Demand
from tongxin.demands.testing import ensure_categories
from tongxin.open311.tests.georeport_client import GeoReportClient


@pytest.fixture
def setup(world):
    ensure_categories()  # a live-server test flushes what migrations seeded
    _token, key = ApiToken.issue(name="Open311 客户端", user=world.worker_a)
    return world, key


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_it_speaks_georeport_v2_end_to_end(live_server, setup, client, fmt):
    world, key = setup
    api = GeoReportClient(live_server.url + "/open311/v2/", fmt, jurisdiction_id="tongxin")

    status, services = api.services()
    assert status == 200
    codes = {s["service_code"]: s for s in services}
    assert codes["infrastructure"]["service_name"] == "基础设施"
    assert str(codes["infrastructure"]["metadata"]).lower() == "true"
    assert str(codes["environment"]["metadata"]).lower() == "false"

    status, definition = api.service_definition("infrastructure")
    assert status == 200 and definition["service_code"] == "infrastructure"
    (facility,) = definition["attributes"]
    assert facility["code"] == "facility"
    assert facility["datatype"] == "singlevaluelist"
    assert str(facility["required"]).lower() == "true"
    assert {"key": "路灯", "name": "路灯"} in facility["values"]

    status, body = api.post_service_request(
        key,
        "infrastructure",
        address_string="仁和社区仁和家园1栋门口",
        description="1栋门口路灯不亮，晚上很黑。",
        **{"attribute[facility]": "路灯"},
        first_name="三",
        last_name="张",
        phone="13800001234",
        email="zhang@example.com",
        media_url="https://example.com/p.jpg",
    )
    assert status in (200, 201), body
    (created,) = body
    request_id, token = created["service_request_id"], created["token"]
    assert request_id and token and created["service_notice"]

    status, body = api.service_request(request_id)
    assert status == 200
    (read,) = body
    assert read["service_request_id"] == request_id
    assert read["service_code"] == "infrastructure"
    assert read["status"] == "open"
    assert read["address"].endswith("仁和社区 仁和家园 第一网格 1栋")
    assert read["requested_datetime"] and read["expected_datetime"]

    status, body = api.request_id_from_token(token)
    assert status == 200 and body[0]["service_request_id"] == request_id

    status, body = api.service_requests(service_code="infrastructure", status="open")
    assert status == 200 and [r["service_request_id"] for r in body] == [request_id]

    # The same loop as any other demand: in the ledger, channel Open311.
    demand = Demand.objects.get(pk=int(request_id))
    assert demand.channel == Channel.OPEN311 and demand.community == world.community_a
    assert demand.reporter_name == "张三" and demand.extra["facility"] == "路灯"
    client.force_login(world.worker_a)
    page = client.get(reverse("demands:ledger"), {"channel": "open311"})
    assert page.status_code == 200 and demand.number in page.content.decode()

    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    actions.claim_demand(demand, by=world.grid_worker_a)
    actions.resolve_demand(demand, by=world.grid_worker_a, answer="路灯已修复，感谢反映。")

    status, body = api.service_request(request_id)
    assert status == 200
    assert body[0]["status"] == "closed"
    assert body[0]["status_notes"] == "路灯已修复，感谢反映。"

    status, body = api.service_request("999999")
    assert status == 404 and body[0]["code"] in (404, "404")
