"""Intake: the public report page reached by QR code (群众点单), the QR codes, and staff
entering a demand for a resident (代录)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from tongxin.accounts.models import UserRole
from tongxin.areas.models import Level, Responsibility, Role
from tongxin.demands import actions, photos
from tongxin.demands.models import (
    Attachment,
    Category,
    Channel,
    Demand,
    DemandEvent,
    EventKind,
    Notification,
    State,
)
from tongxin.demands.notify import announce_task
from tongxin.demands.testing import category, written_in_transaction
from tongxin.testing import make_user
from tongxin.workcal import calendar

GPS_IFD = 0x8825
TOKEN = "tok_" + "a" * 28


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def jpeg(*, gps: bool = False, size=(64, 48), color="red") -> bytes:
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "Phone maker"
        exif[GPS_IFD] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (104.0, 45.0, 0.0)}
        image.save(out, "JPEG", exif=exif.tobytes())
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def report_data(**overrides) -> dict:
    data = {
        "category": category("environment").pk,
        "title": "楼道堆放杂物",
        "description": "3单元楼道堆满纸箱，影响通行。",
        "address": "2栋3单元楼道口",
        "reporter_name": "赵六",
        "reporter_phone": "138 1234 5678",
        "submission_token": TOKEN,
        "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def report_url(world) -> str:
    return reverse("public:report", args=[world.community_a.pk])


def post_report(client, world, **overrides):
    return client.post(report_url(world), report_data(**overrides))


# --- the public page ------------------------------------------------------------------
def test_it_shows_the_form_with_a_fresh_token_and_the_places(client, world):
    r = client.get(report_url(world))
    assert r.status_code == 200
    body = r.content.decode()
    assert "仁和社区" in body and 'name="submission_token"' in body
    assert r.context["form"].token != client.get(report_url(world)).context["form"].token
    labels = dict(r.context["form"].fields["place"].choices)
    assert labels[world.building_a.pk] == "仁和家园 · 1栋"
    # Households are not offered to the public, nor another community's buildings.
    assert world.household_a1.pk not in labels
    assert "万佳庭苑" not in body and "5栋" not in body
    assert r["X-Robots-Tag"].startswith("noindex")


def test_it_answers_404_for_an_unknown_id_or_a_place_that_is_not_a_community(client, world):
    assert client.get(reverse("public:report", args=[999_999])).status_code == 404
    assert client.get(reverse("public:report", args=[world.building_a.pk])).status_code == 404
    assert client.get(reverse("public:report", args=[world.street.pk])).status_code == 404


def test_it_takes_in_a_report_and_shows_the_tracking_code(client, world):
    r = post_report(client, world)
    demand = Demand.objects.get()
    assert r.status_code == 302
    assert r["Location"] == reverse("public:submitted", args=[demand.tracking_code])
    assert demand.channel == Channel.WEB and demand.state == State.SUBMITTED
    assert demand.area == world.community_a and demand.community == world.community_a
    assert demand.reporter_name == "赵六" and demand.reporter_phone == "13812345678"
    assert demand.address == "2栋3单元楼道口" and demand.entered_by is None
    assert demand.submission_token == TOKEN
    assert demand.events.get().kind == EventKind.SUBMITTED
    done = client.get(r["Location"])
    body = done.content.decode()
    code = demand.tracking_code
    assert f"{code[:5]}-{code[5:]}" in body and "截图" in body
    assert reverse("public:tracking", args=[code]) in body
    assert done["X-Robots-Tag"].startswith("noindex")


def test_it_places_the_demand_on_the_chosen_building(client, world):
    post_report(client, world, place=world.building_a.pk)
    demand = Demand.objects.get()
    assert demand.area == world.building_a and demand.community == world.community_a


def test_it_refuses_a_building_of_another_community(client, world):
    other = world.household_b1.ancestor_at(Level.BUILDING)
    r = post_report(client, world, place=other.pk)
    assert r.status_code == 200 and "请从列表中选择小区或楼栋" in r.content.decode()
    assert not Demand.objects.exists()


def test_it_takes_an_anonymous_report_without_keeping_name_or_phone(client, world):
    post_report(client, world, is_anonymous="on", reporter_phone="not a phone")
    demand = Demand.objects.get()
    assert demand.is_anonymous
    assert demand.reporter_name == "" and demand.reporter_phone == ""


def test_it_makes_one_demand_of_a_double_post(client, world):
    first = client.post(report_url(world), {**report_data(), "photos": [upload(jpeg())]})
    again = client.post(report_url(world), {**report_data(), "photos": [upload(jpeg())]})
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"]
    assert Demand.objects.count() == 1
    assert DemandEvent.objects.count() == 1 and Attachment.objects.count() == 1


def test_it_makes_two_demands_of_two_forms(client, world):
    post_report(client, world)
    post_report(client, world, submission_token="tok_" + "b" * 28)
    assert Demand.objects.count() == 2


def test_it_stores_photos_without_exif_and_gps(client, world, media):
    raw = jpeg(gps=True)
    with Image.open(io.BytesIO(raw)) as before:
        assert before.getexif().get_ifd(GPS_IFD)  # the phone's position is in there
    r = client.post(
        report_url(world),
        {
            **report_data(),
            "photos": [upload(raw, "IMG_0001.jpg"), upload(jpeg(color="blue"))],
        },
    )
    assert r.status_code == 302
    attachments = list(Attachment.objects.order_by("id"))
    assert len(attachments) == 2
    assert attachments[0].original_name == "IMG_0001.jpg" and attachments[0].public
    with attachments[0].file.open("rb") as f, Image.open(f) as after:
        assert after.format == "JPEG"
        assert not after.getexif()
        assert not after.getexif().get_ifd(GPS_IFD)
        assert "exif" not in after.info
    assert str(media) in attachments[0].file.path


def test_it_keeps_a_png_upright_and_opaque(client, world):
    image = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    client.post(report_url(world), {**report_data(), "photos": [upload(out.getvalue(), "a.png")]})
    with Attachment.objects.get().file.open("rb") as f, Image.open(f) as stored:
        assert stored.size == (20, 10)
        # A transparent background becomes white, not black.
        assert stored.convert("RGB").getpixel((5, 5)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "请填写标题"),
        ({"description": "  "}, "请描述问题的具体情况"),
        ({"category": ""}, "请选择问题类别"),
        ({"category": "999999"}, "所选类别不存在或已停用"),
        ({"category": "abc"}, "所选类别不存在或已停用"),
        ({"reporter_phone": "12345"}, "电话号码格式不正确"),
        ({"reporter_phone": ""}, "请填写联系电话"),
        ({"reporter_name": ""}, "请填写您的姓名"),
        ({"title": "长" * 101}, "标题最多 100 个字"),
        ({"submission_token": ""}, "页面已过期"),
        ({"submission_token": "<script>"}, "页面已过期"),
        ({"website": "http://spam.example"}, "提交未成功"),
        ({"place": "abc"}, "请从列表中选择小区或楼栋"),
    ],
)
def test_it_refuses_bad_input_in_chinese_and_creates_nothing(client, world, overrides, message):
    r = post_report(client, world, **overrides)
    assert r.status_code == 200
    assert message in r.content.decode()
    assert not Demand.objects.exists() and not Attachment.objects.exists()


def test_it_refuses_an_inactive_category(client, world):
    Category.objects.filter(code="environment").update(is_active=False)
    r = post_report(client, world)
    assert "所选类别不存在或已停用" in r.content.decode()
    assert not Demand.objects.exists()


def test_it_refuses_a_text_file_named_jpg(client, world):
    fake = upload(b"this is not a picture at all", "photo.jpg")
    r = client.post(report_url(world), {**report_data(), "photos": [upload(jpeg()), fake]})
    assert r.status_code == 200
    body = r.content.decode()
    assert "「photo.jpg」不是有效的图片文件" in body and "照片需要重新选择" in body
    assert not Demand.objects.exists() and not Attachment.objects.exists()


def test_it_refuses_an_oversized_photo(client, world, monkeypatch):
    big = jpeg(size=(400, 300))
    monkeypatch.setattr(photos, "MAX_BYTES", len(big) - 1)
    r = client.post(report_url(world), {**report_data(), "photos": [upload(big, "big.jpg")]})
    assert "照片「big.jpg」太大" in r.content.decode()
    assert not Demand.objects.exists() and not Attachment.objects.exists()


def test_it_refuses_more_than_five_photos(client, world):
    six = [upload(jpeg(), f"p{i}.jpg") for i in range(6)]
    r = client.post(report_url(world), {**report_data(), "photos": six})
    assert "最多上传 5 张照片" in r.content.decode()
    assert not Demand.objects.exists() and not Attachment.objects.exists()


def test_it_asks_the_required_extra_question_of_the_category(client, world):
    infra = category("infrastructure")
    r = post_report(client, world, category=infra.pk)
    assert "请选择「设施类型」" in r.content.decode()
    r = post_report(client, world, category=infra.pk, extra_facility="飞船")
    assert "请从列表中选择「设施类型」" in r.content.decode()
    assert not Demand.objects.exists()
    post_report(client, world, category=infra.pk, extra_facility="路灯")
    assert Demand.objects.get().extra == {"facility": "路灯"}


def test_it_stores_extra_answers_by_code_with_their_types(client, world):
    cat = Category.objects.create(
        name="测试类",
        code="test_extra",
        extra_fields=[
            {"code": "floors", "label": "楼层数", "type": "number", "required": True},
            {"code": "since", "label": "开始日期", "type": "date", "required": False},
            {"code": "note", "label": "补充", "type": "text", "required": False},
            {"code": "size", "label": "面积", "type": "number", "required": False},
        ],
    )
    r = post_report(client, world, category=cat.pk, extra_floors="abc", extra_since="昨天")
    body = r.content.decode()
    assert "「楼层数」应为数字" in body and "「开始日期」应为日期" in body
    assert not Demand.objects.exists()
    post_report(
        client,
        world,
        category=cat.pk,
        extra_floors="6",
        extra_since="2026-03-15",
        extra_size="12.5",
        extra_note="",
    )
    assert Demand.objects.get().extra == {"floors": 6, "since": "2026-03-15", "size": 12.5}


def test_it_reloads_the_extra_questions_when_the_category_changes(client, world):
    r = client.get(
        report_url(world),
        {"category": category("infrastructure").pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="extra-fields",
    )
    body = r.content.decode()
    assert "设施类型" in body and "路灯" in body and "<html" not in body
    r = client.get(
        report_url(world),
        {"category": category("environment").pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="extra-fields",
    )
    assert r.content.decode().strip() == ""


def test_a_report_is_taken_in_a_fixed_number_of_queries(
    client, world, settings, django_assert_num_queries
):
    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }  # as served
    secretary = make_user("sec_a", UserRole.COMMUNITY_WORKER, world.community_a, "书记甲")
    Responsibility.objects.create(
        area=world.community_a, user=secretary, role=Role.COMMUNITY_SECRETARY
    )
    data = report_data()
    calendar.clear_cache()  # (a server process keeps it for a minute)
    # The community; the category (read once: for its questions and its check); the
    # working calendar, for the deadline. Then the write transaction, which reads nothing
    # (on SQLite it holds the one write lock): the demand, its event and the job that
    # tells the dispatchers — on PostgreSQL one statement. No place chosen: none read.
    with django_assert_num_queries(8 if connection.vendor == "sqlite" else 6) as captured:
        r = client.post(report_url(world), data)
    assert r.status_code == 302
    assert written_in_transaction(captured) == [
        "demands_demand",
        "demands_demandevent",
        "django_tasks_database_dbtaskresult",
    ]
    demand = Demand.objects.get()
    job = DBTaskResult.objects.get()
    assert job.task_path == "tongxin.demands.notify.announce_task"
    assert job.args_kwargs["args"] == [demand.tracking_code]
    assert not Notification.objects.exists()
    # The worker runs it: the chain's first person is told, and the message goes out.
    assert announce_task.call(demand.tracking_code) == 1
    note = Notification.objects.get()
    assert note.user == secretary and note.demand == demand and demand.title in note.text
    delivery = DBTaskResult.objects.exclude(pk=job.pk).get()
    assert delivery.args_kwargs["args"] == [note.pk]


def test_nobody_is_told_of_a_demand_no_longer_waiting(world):
    """The job runs a moment after the intake: a demand dispatched, merged or withdrawn
    meanwhile waits for no one."""
    demand, _created = actions.submit_demand(
        area=world.community_a,
        category=category("environment"),
        title="井盖缺失",
        description="东门",
    )
    Notification.objects.all().delete()
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.worker_b)
    told_before = Notification.objects.count()
    assert announce_task.call(demand.tracking_code) == 0
    assert Notification.objects.count() == told_before
    assert announce_task.call("ABCDEFGH23") == 0  # deleted meanwhile


def test_the_page_needs_a_few_queries(client, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert client.get(report_url(world)).status_code == 200


# --- QR codes ---------------------------------------------------------------------------
def test_it_draws_the_qr_code_of_the_report_page(client, world):
    r = client.get(reverse("public:qr", args=[world.community_a.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "image/svg+xml"
    svg = r.content.decode()
    assert svg.startswith(("<?xml", "<svg")) and "<path" in svg
    assert client.get(reverse("public:qr", args=[world.household_a1.pk])).status_code == 404


def test_the_print_sheet_has_a_card_per_community_in_scope(client, world):
    client.force_login(world.worker_a)
    r = client.get(reverse("demands:qr_sheet"))
    body = r.content.decode()
    assert r.status_code == 200 and "扫码反映问题" in body and "仁和社区" in body
    assert "宏丰社区" not in body
    assert f"http://testserver/report/{world.community_a.pk}/" in body
    assert reverse("public:qr", args=[world.community_a.pk]) in body
    assert "css/intake.css" in body
    client.force_login(world.street_office)
    body = client.get(reverse("demands:qr_sheet")).content.decode()
    assert "仁和社区" in body and "宏丰社区" in body


def test_the_print_sheet_is_for_staff(client, world):
    url = reverse("demands:qr_sheet")
    assert client.get(url).status_code == 302  # to the sign-in page
    for user in (world.resident_user_a, world.party_member_a):
        client.force_login(user)
        assert client.get(url).status_code == 403


# --- staff intake (代录) -----------------------------------------------------------------
def staff_data(world, **overrides) -> dict:
    data = {
        "channel": Channel.HOTLINE,
        "category": category("environment").pk,
        "title": "楼下垃圾桶满了",
        "description": "张三来电：1栋楼下垃圾桶两天没清运。",
        "community": world.community_a.pk,
        "submission_token": TOKEN,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_lets_worker_a_enter_a_hotline_call_for_zhang_san(client, world):
    client.force_login(world.worker_a)
    url = reverse("demands:intake")
    assert client.get(url).status_code == 200
    r = client.post(url, staff_data(world, reporter=world.resident_a1.pk))
    demand = Demand.objects.get()
    assert r.status_code == 302
    assert demand.reporter == world.resident_a1 and demand.channel == Channel.HOTLINE
    assert demand.entered_by == world.worker_a
    assert demand.area == world.household_a1  # the resident's home, no place chosen
    assert demand.reporter_name == "张三" and demand.reporter_phone == "13800001234"
    assert demand.events.get().actor == world.worker_a
    page = client.get(r["Location"])
    code = demand.tracking_code
    assert f"{code[:5]}-{code[5:]}" in page.content.decode()


def test_it_goes_to_the_staff_page_when_there_is_one(client, world, monkeypatch):
    from tongxin.demands import views_intake

    monkeypatch.setattr(views_intake, "reverse", lambda name, args: f"/demands/{args[0]}/")
    client.force_login(world.worker_a)
    r = client.post(reverse("demands:intake"), staff_data(world, reporter_name="钱七"))
    assert r["Location"] == f"/demands/{Demand.objects.get().pk}/"


def test_a_double_post_of_the_staff_form_makes_one_demand(client, world):
    client.force_login(world.worker_a)
    data = staff_data(world, reporter_name="钱七", reporter_phone="0813-1234567")
    client.post(reverse("demands:intake"), data)
    r = client.post(reverse("demands:intake"), data, follow=True)
    assert Demand.objects.count() == 1
    assert "没有重复录入" in r.content.decode()


def test_worker_b_cannot_enter_a_demand_for_a_resident_of_community_a(client, world):
    client.force_login(world.worker_b)
    r = client.post(
        reverse("demands:intake"),
        staff_data(world, reporter=world.resident_a1.pk, community=world.community_b.pk),
    )
    assert r.status_code == 200
    assert "所选居民不在您的管辖范围内" in r.content.decode()
    r = client.post(reverse("demands:intake"), staff_data(world, reporter_name="钱七"))
    assert "所选社区不在您的管辖范围内" in r.content.decode()
    assert not Demand.objects.exists()
    pick = client.get(reverse("demands:intake_reporter"), {"id": world.resident_a1.pk})
    assert pick.status_code == 404


def test_it_places_a_staff_demand_where_it_is_told(client, world):
    client.force_login(world.worker_a)
    client.post(
        reverse("demands:intake"),
        staff_data(
            world,
            reporter=world.resident_a1.pk,
            place=world.grid_a.pk,
            address="东门",
            channel=Channel.VISIT,
        ),
    )
    demand = Demand.objects.get()
    assert demand.area == world.grid_a and demand.channel == Channel.VISIT


def test_a_street_worker_may_pick_the_resident_without_a_community(client, world):
    client.force_login(world.street_office)
    client.post(
        reverse("demands:intake"),
        staff_data(world, community="", reporter=world.resident_b1.pk, channel=Channel.WECHAT),
    )
    demand = Demand.objects.get()
    assert demand.area == world.household_b1 and demand.community == world.community_b


def test_a_grid_worker_takes_in_a_demand_inside_their_grid(client, world):
    client.force_login(world.grid_worker_a)
    form = client.get(reverse("demands:intake")).context["form"]
    assert list(form.fields["community"].queryset) == [world.grid_a]
    client.post(
        reverse("demands:intake"),
        staff_data(
            world,
            community=world.grid_a.pk,
            place=world.building_a.pk,
            reporter_name="钱七",
            channel=Channel.VISIT,
        ),
    )
    demand = Demand.objects.get()
    assert demand.area == world.building_a and demand.community == world.community_a


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"channel": Channel.WEB}, "请从列表中选择来源渠道"),
        ({"channel": Channel.OPEN311}, "请从列表中选择来源渠道"),
        ({"channel": Channel.WISH_WALL}, "请从列表中选择来源渠道"),
        ({}, "请从居民名册中选择反映人，或填写反映人姓名"),
        ({"reporter_name": "钱七", "reporter_phone": "123"}, "电话号码格式不正确"),
        ({"reporter": "x"}, "请重新选择反映人"),
        ({"community": "", "reporter_name": "钱七"}, "请选择社区"),
        ({"is_anonymous": "on", "reporter": "RESIDENT"}, "匿名反映时不能同时选择登记居民"),
    ],
)
def test_the_staff_form_refuses_bad_input(client, world, overrides, message):
    if overrides.get("reporter") == "RESIDENT":
        overrides["reporter"] = world.resident_a1.pk
    client.force_login(world.worker_a)
    r = client.post(reverse("demands:intake"), staff_data(world, **overrides))
    assert r.status_code == 200 and message in r.content.decode()
    assert not Demand.objects.exists()


def test_staff_intake_is_for_those_who_may_change_the_area(client, world):
    url = reverse("demands:intake")
    assert client.get(url).status_code == 302
    for user in (world.cadre_a, world.party_member_a, world.resident_user_a):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, staff_data(world, reporter_name="钱七")).status_code == 403
        assert (
            client.get(reverse("demands:intake_residents"), {"reporter_q": "张"}).status_code == 403
        )
    assert not Demand.objects.exists()


def test_the_reporter_search_shows_residents_in_scope_with_masked_phones(client, world):
    client.force_login(world.worker_a)
    r = client.get(
        reverse("demands:intake_residents"), {"reporter_q": "zs"}, HTTP_HX_REQUEST="true"
    )
    body = r.content.decode()
    assert "张三" in body and "138****1234" in body and "13800001234" not in body
    assert "<html" not in body
    assert (
        "王五"
        not in client.get(
            reverse("demands:intake_residents"), {"reporter_q": "王"}
        ).content.decode()
    )
    client.force_login(world.worker_b)
    body = client.get(reverse("demands:intake_residents"), {"reporter_q": "张"}).content.decode()
    assert "<strong>张三</strong>" not in body and "没有找到" in body


def test_picking_a_resident_fills_the_hidden_reporter_field(client, world):
    client.force_login(world.worker_a)
    r = client.get(reverse("demands:intake_reporter"), {"id": world.resident_a1.pk})
    body = r.content.decode()
    assert f'name="reporter" value="{world.resident_a1.pk}"' in body
    assert "138****1234" in body and 'hx-swap-oob="true"' in body
    cleared = client.get(reverse("demands:intake_reporter")).content.decode()
    assert 'name="reporter"' not in cleared


def test_choosing_a_community_reloads_its_places(client, world):
    client.force_login(world.street_office)
    r = client.get(
        reverse("demands:intake"),
        {"community": world.community_b.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="place-field",
    )
    body = r.content.decode()
    assert "万佳庭苑 · 5栋" in body and "仁和家园" not in body and "<html" not in body


def test_the_staff_photo_view_follows_the_demand_scope(client, world):
    client.force_login(world.worker_a)
    client.post(
        reverse("demands:intake"),
        {**staff_data(world, reporter_name="钱七"), "photos": [upload(jpeg(gps=True))]},
    )
    attachment = Attachment.objects.get()
    url = reverse("demands:photo", args=[attachment.pk])
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert b"".join(r.streaming_content).startswith(b"\xff\xd8")
    client.force_login(world.worker_b)
    assert client.get(url).status_code == 404
    assert client.get(reverse("demands:photo", args=[999_999])).status_code == 404


def test_it_survives_numbers_too_big_for_the_database(client, world):
    huge = "9" * 30
    assert client.get(f"/report/{huge}/").status_code == 404
    assert client.get(f"/report/{huge}/qr.svg").status_code == 404
    r = post_report(client, world, category=huge, place=huge)
    assert r.status_code == 200 and "所选类别不存在或已停用" in r.content.decode()
    client.force_login(world.worker_a)
    r = client.post(reverse("demands:intake"), staff_data(world, reporter=huge, community=huge))
    assert r.status_code == 200 and "所选居民不在您的管辖范围内" in r.content.decode()
    assert client.get(reverse("demands:intake_reporter"), {"id": huge}).status_code == 404
    assert client.get(f"/demands/intake/photo/{huge}/").status_code == 404
    assert not Demand.objects.exists()


def test_an_intake_with_photos_or_of_a_past_day_writes_the_same_rows(world, settings, tmp_path):
    """Photos are written with the demand, and a demand taken in for a past day marks
    that day for the counts: both in the intake's one transaction, with its event and
    its job, as a plain intake (which writes its three rows together)."""
    from tongxin.demands.models import DirtyDay

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TASKS = {
        "default": {
            "BACKEND": "tongxin.core.task_backend.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    photo = photos.clean_photo(upload(jpeg()))
    plain, _ = actions.submit_demand(
        area=world.community_a, category=category(), title="楼道灯", description="不亮"
    )
    with_photo, _ = actions.submit_demand(
        area=world.community_a,
        category=category(),
        title="井盖",
        description="缺失",
        photos=[photo],
    )
    past = timezone.now() - dt.timedelta(days=3)
    backdated, _ = actions.submit_demand(
        area=world.community_a, category=category(), title="路灯", description="坏了", now=past
    )
    for demand in (plain, with_photo, backdated):
        assert [e.kind for e in demand.events.all()] == ["submitted"]
        job = DBTaskResult.objects.get(args_kwargs__args=[demand.tracking_code])
        assert job.task_path == "tongxin.demands.notify.announce_task"
    assert Attachment.objects.filter(demand=with_photo).count() == 1
    assert not Attachment.objects.filter(demand__in=[plain, backdated]).exists()
    assert DirtyDay.objects.filter(
        community=world.community_a, day=timezone.localdate(past)
    ).exists()


def test_the_answer_url_is_the_one_reverse_gives_under_any_prefix():
    from django.urls import get_script_prefix, set_script_prefix

    from tongxin.demands.views_public import submitted_url

    before = get_script_prefix()
    try:
        for prefix in ("/", "/tongxin/"):
            set_script_prefix(prefix)
            assert submitted_url("ABCDE23456") == reverse("public:submitted", args=["ABCDE23456"])
            assert submitted_url("ABCDE23456").startswith(prefix)
    finally:
        set_script_prefix(before)
