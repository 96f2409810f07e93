"""Reading is public (the spec has no key for it), so nothing personal may be read:
not the reporter's name or phone, not the household or room, not the resident's own
words, not the contact details an Open311 client posted."""

from urllib.parse import urlencode

import pytest

from tongxin.demands import actions
from tongxin.demands.testing import submit

# The room (502) as it is written, not the bare number: a request's id and its 编号
# (2026-002502) may hold those digits once the database's counters have gone that far.
SECRETS = [
    "李淑芬",
    "13900005678",
    "2单元",
    "单元502",
    "502室",
    "淑芬家漏水",
    "zhang@example.com",
    "dev-42",
]


@pytest.fixture
def demands(world, key, client):
    by_staff = submit(
        world.household_a2,
        reporter=world.resident_a2,
        reporter_name="李淑芬",
        reporter_phone="13900005678",
        description="李淑芬家漏水，电话13900005678，2单元502。",
        address="2单元502室",
    )
    body = {
        "api_key": key,
        "service_code": "environment",
        "address_id": world.household_a2.pk,
        "address_string": "仁和家园2单元502",
        "description": "淑芬家漏水",
        "first_name": "淑芬",
        "last_name": "李",
        "phone": "13900005678",
        "email": "zhang@example.com",
        "device_id": "dev-42",
        "media_url": "https://example.com/502.jpg",
    }
    response = client.post(
        "/open311/v2/requests.json",
        urlencode(body),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    actions.dispatch_demand(by_staff, by=world.worker_a, to_user=world.grid_worker_a)
    actions.claim_demand(by_staff, by=world.grid_worker_a)
    return by_staff, response.json()[0]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_it_leaks_no_personal_data_on_public_reads(client, demands, fmt):
    by_staff, posted = demands
    urls = [
        f"/open311/v2/requests.{fmt}",
        f"/open311/v2/requests.{fmt}?status=open",
        f"/open311/v2/requests.{fmt}?service_request_id={by_staff.pk},{posted['service_request_id']}",
        f"/open311/v2/requests/{by_staff.pk}.{fmt}",
        f"/open311/v2/requests/{posted['service_request_id']}.{fmt}",
        f"/open311/v2/tokens/{posted['token']}.{fmt}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        if fmt == "json":
            import json

            text = json.dumps(json.loads(text), ensure_ascii=False)
        for secret in [*SECRETS, "网格员甲", "example.com/502"]:
            assert secret not in text, (url, secret)
    assert "仁和家园 第一网格 1栋" in client.get(urls[3]).content.decode()
