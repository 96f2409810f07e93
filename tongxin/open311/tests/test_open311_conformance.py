"""Every GeoReport v2 endpoint in XML and JSON, the good path and the malformed one."""

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from tongxin.demands.models import Channel, Demand
from tongxin.demands.testing import category, submit
from tongxin.open311 import views
from tongxin.open311.tests.georeport_client import xml_to_python

BASE = "/open311/v2/"
FORMATS = ["json", "xml"]
FORM = "application/x-www-form-urlencoded"


def parse(response, fmt):
    body = response.content
    if fmt == "json":
        assert response["Content-Type"].startswith("application/json")
        return json.loads(body)
    assert response["Content-Type"].startswith("text/xml")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return xml_to_python(ET.fromstring(body))


def error_of(response, fmt, status):
    assert response.status_code == status, response.content
    (error,) = parse(response, fmt)
    assert str(error["code"]) == str(status)
    assert error["description"]
    return error["description"]


def post(client, fmt, data, **extra):
    from urllib.parse import urlencode

    return client.post(f"{BASE}requests.{fmt}", urlencode(data), content_type=FORM, **extra)


def good(key, **more):
    return {
        "api_key": key,
        "service_code": "environment",
        "address_string": "仁和家园",
        "description": "楼道堆满纸箱。",
        **more,
    }


# --- services ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_it_lists_services(client, categories, fmt, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get(f"{BASE}services.{fmt}")
    services = parse(response, fmt)
    assert response.status_code == 200
    first = services[0]
    assert set(first) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert first["type"] == "realtime"


def test_it_writes_the_xml_elements_the_spec_names(client, categories):
    root = ET.fromstring(client.get(f"{BASE}services.xml").content)
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    assert root.find("service[service_code='property']/metadata").text == "true"
    root = ET.fromstring(client.get(f"{BASE}services/property.xml").content)
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert attribute.find("code").text == "has_property_company"
    assert attribute.find("variable").text == "true"
    assert [v.find("key").text for v in attribute.findall("values/value")] == ["有", "无", "不清楚"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_reads_a_service_definition(client, categories, fmt):
    response = client.get(f"{BASE}services/property.{fmt}")
    definition = parse(response, fmt)
    assert definition["service_code"] == "property"
    (attribute,) = definition["attributes"]
    assert attribute["datatype"] == "singlevaluelist"
    assert str(attribute["required"]).lower() == "false"
    assert str(attribute["order"]) == "1"
    assert attribute["description"] == "小区是否有物业"


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_answers_404_for_an_unknown_service(client, categories, fmt):
    error_of(client.get(f"{BASE}services/nosuch.{fmt}"), fmt, 404)


@pytest.mark.parametrize("path", ["services.html", "services/property.yaml", "requests.txt"])
def test_it_answers_404_for_an_unknown_format(client, categories, path):
    response = client.get(BASE + path)
    assert response.status_code == 404
    assert json.loads(response.content)[0]["code"] == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_a_wrong_method(client, categories, fmt):
    error_of(client.post(f"{BASE}services.{fmt}"), fmt, 405)
    response = client.delete(f"{BASE}requests.{fmt}")
    error_of(response, fmt, 405)
    assert response["Allow"] == "GET, POST"


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_checks_the_jurisdiction(client, categories, fmt):
    ok = client.get(f"{BASE}services.{fmt}", {"jurisdiction_id": "tongxin"})
    assert ok.status_code == 200
    error_of(client.get(f"{BASE}services.{fmt}", {"jurisdiction_id": "elsewhere"}), fmt, 404)


@override_settings(TONGXIN_OPEN311_JURISDICTION="daan.example.cn")
def test_it_takes_the_configured_jurisdiction(client, categories):
    ok = client.get(f"{BASE}services.json", {"jurisdiction_id": "daan.example.cn"})
    assert ok.status_code == 200


# --- POST requests -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_it_posts_a_request(client, world, key, fmt):
    response = post(
        client,
        fmt,
        good(
            key,
            service_code="property",
            **{"attribute[has_property_company]": "有"},
            account_id="acc-1",
            device_id="dev-9",
        ),
    )
    assert response.status_code == 201
    (row,) = parse(response, fmt)
    demand = Demand.objects.get(pk=int(row["service_request_id"]))
    assert row["token"] == demand.tracking_code
    assert row["account_id"] == "acc-1"
    assert demand.channel == Channel.OPEN311
    assert demand.entered_by == world.worker_a
    assert demand.area.name == "仁和家园"
    assert demand.extra == {
        "has_property_company": "有",
        "open311_account_id": "acc-1",
        "open311_device_id": "dev-9",
    }
    assert demand.events.get().public  # the loop's own intake event


def test_it_places_by_address_id(client, world, key):
    response = post(client, "json", good(key, address_string="", address_id=world.building_a.pk))
    assert response.status_code == 201
    assert Demand.objects.get().area == world.building_a


def test_it_places_lat_long_in_a_single_community_scope(client, world, key):
    data = good(key, address_string="", lat="30.5", long="104.0")
    assert post(client, "json", data).status_code == 201
    demand = Demand.objects.get()
    assert demand.area == world.community_a
    assert demand.extra["open311_lat"] == "30.5"


def test_it_cannot_place_lat_long_for_a_wider_scope(client, world, categories):
    from tongxin.api.models import ApiToken

    _t, street_key = ApiToken.issue(name="热线", user=world.street_office)
    data = good(street_key, address_string="", lat="30.5", long="104.0")
    assert "位置无法确定" in error_of(post(client, "json", data), "json", 400)
    data = good(street_key, address_string="仁和家园或万佳庭苑")
    assert "多个地点" in error_of(post(client, "json", data), "json", 400)
    data = good(street_key, address_string="宏丰社区万佳庭苑5栋")
    assert post(client, "json", data).status_code == 201
    assert Demand.objects.get().area.name == "5栋"


@pytest.mark.parametrize(
    "change, status, words",
    [
        ({"api_key": ""}, 403, "api_key"),
        ({"api_key": "not-a-key"}, 403, "api_key"),
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "nosuch"}, 404, "service_code"),
        ({"service_code": "infrastructure"}, 400, "attribute[facility]"),
        ({"service_code": "infrastructure", "attribute[facility]": "飞船"}, 400, "facility"),
        ({"attribute[colour]": "red"}, 400, "colour"),
        ({"address_string": ""}, 400, "位置"),
        ({"address_string": "", "address_id": "abc"}, 400, "address_id"),
        ({"address_string": "", "address_id": "99999999999"}, 400, "address_id"),
        ({"lat": "95", "long": "104"}, 400, "lat"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"phone": "call me maybe"}, 400, "phone"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"description": "", "media_url": ""}, 400, "description"),
        ({"description": "长" * 4001}, 400, "description"),
        ({"jurisdiction_id": "elsewhere"}, 404, "jurisdiction_id"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_malformed_posts(client, key, fmt, change, status, words):
    assert words in error_of(post(client, fmt, {**good(key), **change}), fmt, status)
    assert not Demand.objects.exists()


def test_it_refuses_a_place_outside_the_keys_scope(client, world, key):
    data = good(key, address_string="", address_id=world.community_b.pk)
    error_of(post(client, "json", data), "json", 400)
    data = good(key, address_string="宏丰社区万佳庭苑")  # community B: not worker_a's
    assert "address_string" in error_of(post(client, "json", data), "json", 400)
    data = good(key, address_string="1栋")  # a building alone, without its estate
    error_of(post(client, "json", data), "json", 400)
    assert not Demand.objects.exists()


def test_it_refuses_a_residents_key(client, world, categories):
    from tongxin.api.models import ApiToken

    _t, resident_key = ApiToken.issue(name="居民", user=world.resident_user_a)
    error_of(post(client, "json", good(resident_key)), "json", 403)


def test_it_refuses_a_revoked_key(client, world, categories):
    from tongxin.api.models import ApiToken

    token, revoked = ApiToken.issue(name="旧", user=world.worker_a)
    token.revoke()
    error_of(post(client, "json", good(revoked)), "json", 403)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_a_huge_body(client, key, fmt):
    data = good(key, description="长" * 30000)
    error_of(post(client, fmt, data), fmt, 413)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_a_body_that_is_not_utf8(client, key, fmt):
    body = f"api_key={key}&service_code=environment&address_string=%C8%CA%BA%CD&description=%C2%A5%B5%C0"
    response = client.post(f"{BASE}requests.{fmt}", body, content_type=FORM)
    assert "UTF-8" in error_of(response, fmt, 400)
    nul = good(key, description="a\x00b")
    assert "空字符" in error_of(post(client, fmt, nul), fmt, 400)
    raw = b"description=\xc2\xa5\xb5\xc0"  # GBK bytes, unescaped
    response = client.post(f"{BASE}requests.{fmt}", raw, content_type=FORM)
    error_of(response, fmt, 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_a_body_that_is_not_a_form(client, key, fmt):
    response = client.post(
        f"{BASE}requests.{fmt}", json.dumps(good(key)), content_type="application/json"
    )
    error_of(response, fmt, 400)
    response = client.post(f"{BASE}requests.{fmt}", good(key))  # multipart
    error_of(response, fmt, 400)
    response = client.post(f"{BASE}requests.{fmt}", "a=1", content_type=FORM + "; charset=gbk")
    error_of(response, fmt, 400)


def test_it_limits_the_rate_of_posts(client, key, monkeypatch):
    monkeypatch.setitem(views.RATE_LIMITS, "POST", 2)
    assert post(client, "json", good(key)).status_code == 201
    assert post(client, "json", good(key)).status_code == 201
    response = post(client, "xml", good(key))
    error_of(response, "xml", 429)
    assert response["Retry-After"] == "60"
    assert Demand.objects.count() == 2
    assert client.get(f"{BASE}services.json").status_code == 200  # reading has its own count


def test_it_limits_the_rate_of_reads(client, categories, monkeypatch):
    monkeypatch.setitem(views.RATE_LIMITS, "GET", 3)
    for _ in range(3):
        assert client.get(f"{BASE}services.json").status_code == 200
    error_of(client.get(f"{BASE}services.json"), "json", 429)
    other = client.get(f"{BASE}services.json", REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


# --- GET requests --------------------------------------------------------------------------
@pytest.fixture
def three(world, categories):
    now = timezone.now()
    old = submit(world.building_a, title="旧事", now=now - dt.timedelta(days=120))
    recent = submit(world.household_a1, title="近事", now=now - dt.timedelta(days=2))
    other = submit(
        world.community_b,
        title="别的",
        category=category("security"),
        now=now - dt.timedelta(days=1),
    )
    return old, recent, other


def ids(response, fmt):
    assert response.status_code == 200, response.content
    return [r["service_request_id"] for r in parse(response, fmt)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_lists_the_last_90_days_by_default(client, three, fmt, django_assert_num_queries):
    _old, recent, other = three
    with django_assert_num_queries(3):
        response = client.get(f"{BASE}requests.{fmt}")
    assert ids(response, fmt) == [str(other.pk), str(recent.pk)]
    row = parse(response, fmt)[1]
    for field in (
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ):
        assert field in row
    assert row["agency_responsible"] == "仁和社区"
    assert row["address"] == "龙井街 仁和社区 仁和家园 第一网格 1栋"  # the household left out


def test_it_keeps_queries_flat_for_many_requests(
    client, world, categories, django_assert_num_queries
):
    for n in range(12):
        submit(world.building_a, title=f"第{n}件")
    with django_assert_num_queries(3):
        response = client.get(f"{BASE}requests.json")
    assert len(ids(response, "json")) == 12


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_filters_requests(client, three, fmt):
    old, recent, other = three
    url = f"{BASE}requests.{fmt}"
    assert ids(client.get(url, {"service_code": "security"}), fmt) == [str(other.pk)]
    assert ids(client.get(url, {"service_code": "security,environment"}), fmt) == [
        str(other.pk),
        str(recent.pk),
    ]
    assert ids(client.get(url, {"status": "closed"}), fmt) == []
    assert len(ids(client.get(url, {"status": "open,closed"}), fmt)) == 2
    wanted = f"{old.pk},{other.pk}"  # ids override the date window
    assert sorted(ids(client.get(url, {"service_request_id": wanted}), fmt)) == sorted(
        [str(old.pk), str(other.pk)]
    )
    start = (timezone.now() - dt.timedelta(days=130)).isoformat()
    end = (timezone.now() - dt.timedelta(days=100)).isoformat()
    assert ids(client.get(url, {"start_date": start, "end_date": end}), fmt) == [str(old.pk)]
    assert ids(client.get(url, {"start_date": start}), fmt) == [str(old.pk)]
    assert ids(client.get(url, {"end_date": end}), fmt) == [str(old.pk)]


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"start_date": "yesterday"}, 400, "start_date"),
        ({"end_date": "2026-13-45T00:00:00+08:00"}, 400, "end_date"),
        (
            {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"},
            400,
            "90",
        ),
        (
            {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"},
            400,
            "end_date",
        ),
        ({"status": "pending"}, 400, "status"),
        ({"service_code": "nosuch"}, 400, "service_code"),
        ({"service_request_id": "1,x"}, 400, "service_request_id"),
        ({"api_key": "bad"}, 403, "api_key"),
        ({"service_code": "environment\x00"}, 400, "空字符"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_malformed_queries(client, categories, fmt, params, status, words):
    assert words in error_of(client.get(f"{BASE}requests.{fmt}", params), fmt, status)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_an_overlong_query(client, categories, fmt):
    error_of(client.get(f"{BASE}requests.{fmt}", {"service_code": "x" * 9000}), fmt, 414)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_reads_one_request_and_a_token(client, world, three, fmt):
    _old, recent, _other = three
    (row,) = parse(client.get(f"{BASE}requests/{recent.pk}.{fmt}"), fmt)
    assert row["service_request_id"] == str(recent.pk)
    assert row["status"] == "open"
    assert row["status_notes"] in ("", None)
    assert row["address_id"] == str(world.building_a.pk)  # the household is left out
    (found,) = parse(client.get(f"{BASE}tokens/{recent.tracking_code}.{fmt}"), fmt)
    assert found == {"service_request_id": str(recent.pk), "token": recent.tracking_code}
    error_of(client.get(f"{BASE}requests/987654.{fmt}"), fmt, 404)
    error_of(client.get(f"{BASE}requests/99999999999.{fmt}"), fmt, 404)  # past int32
    assert (
        ids(client.get(f"{BASE}requests.{fmt}", {"service_request_id": "99999999999"}), fmt) == []
    )
    error_of(client.get(f"{BASE}tokens/NOSUCHCODE.{fmt}"), fmt, 404)


def test_it_shows_the_description_only_to_whom_may_dispatch_it(client, world, three, key):
    _old, recent, other = three
    url = f"{BASE}requests.json"
    public = {r["service_request_id"]: r for r in parse(client.get(url), "json")}
    assert public[str(recent.pk)]["description"] is None
    keyed = {r["service_request_id"]: r for r in parse(client.get(url, {"api_key": key}), "json")}
    assert keyed[str(recent.pk)]["description"] == recent.description  # community A
    assert keyed[str(other.pk)]["description"] is None  # community B: not worker_a's


def test_it_maps_states_to_open_and_closed(client, world, three):
    from tongxin.demands import actions

    _old, recent, other = three
    actions.withdraw_demand(other, reason="已自行解决")
    rows = {r["service_request_id"]: r for r in parse(client.get(f"{BASE}requests.json"), "json")}
    assert rows[str(other.pk)]["status"] == "closed"
    assert rows[str(recent.pk)]["status"] == "open"


def test_it_writes_xml_that_survives_control_characters(client, world, key):
    demand = submit(world.building_a, description="坏字符\x07\x1b在此")
    response = client.get(f"{BASE}requests/{demand.pk}.xml", {"api_key": key})
    (row,) = parse(response, "xml")
    assert row["description"] == "坏字符在此"
