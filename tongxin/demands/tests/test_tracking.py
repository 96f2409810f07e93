"""The reporter's tracking page: what it shows, what it never shows, rating, withdrawal."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from tongxin.demands import actions
from tongxin.demands.models import DemandEvent, EventKind, Satisfaction, State
from tongxin.demands.photos import clean_photo
from tongxin.demands.testing import category, submit

INTERNAL = "内部：物业经理老王电话13511112222，先别告诉居民"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def a_photo(name="p.jpg", color="red"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    out = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(out, "JPEG")
    return clean_photo(SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg"))


def url(demand, name="public:tracking"):
    return reverse(name, args=[demand.tracking_code])


@pytest.fixture
def reported(world):
    """张三 reports from home with a photo; it is dispatched to the grid worker."""
    d = submit(
        world.household_a1,
        reporter=world.resident_a1,
        reporter_phone="13800001234",
        photos=[a_photo("mine.jpg")],
    )
    actions.dispatch_demand(
        d, by=world.worker_a, to_user=world.grid_worker_a, note="交给网格员甲，注意老人独居"
    )
    return d


def resolve(world, demand, answer="已清理楼道，谢谢您的反映。"):
    actions.claim_demand(demand, by=world.grid_worker_a)
    return actions.resolve_demand(demand, by=world.grid_worker_a, answer=answer)


def test_it_shows_the_public_steps_and_hides_internal_ones(client, world, reported):
    actions.add_note(
        reported, by=world.worker_a, text=INTERNAL, public=False, photos=[a_photo("internal.jpg")]
    )
    actions.add_note(reported, by=world.worker_a, text="已联系物业，明天清理。", public=True)
    r = client.get(url(reported))
    assert r.status_code == 200
    body = r.content.decode()
    assert reported.title in body and reported.description in body and "环境卫生" in body
    assert "已收到您的诉求" in body and "社区已派单" in body and "已联系物业，明天清理。" in body
    assert INTERNAL not in body and "老王" not in body and "注意老人独居" not in body
    # The handler of an internal event, the reporter's full name and phone: never.
    assert "网格员甲" not in body and "社工甲" not in body
    assert "张三" not in body and "张*" in body
    assert "13800001234" not in body and "1234" not in body
    assert 'aria-current="step"' in body and "已派单" in body
    photos = list(r.context["photos"])
    assert [p.original_name for p in photos] == ["mine.jpg"]


def test_it_is_not_indexed_nor_cached(client, world, reported):
    r = client.get(url(reported))
    assert r["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in r["Cache-Control"] and "private" in r["Cache-Control"]


def test_it_finds_a_code_typed_in_any_case_with_spaces_and_dashes(client, world, reported):
    code = reported.tracking_code
    typed = f" {code[:5].lower()}-{code[5:]} "
    r = client.get(reverse("public:track"), {"code": typed})
    assert r.status_code == 302 and r["Location"] == url(reported)
    assert client.get(reverse("public:tracking", args=[code.lower()])).status_code == 200


def test_an_unknown_code_says_so_and_nothing_else(client, world, reported):
    r = client.get(reverse("public:tracking", args=["ZZZZZZZZZZ"]))
    assert r.status_code == 404
    body = r.content.decode()
    assert "没有找到这个查询码对应的诉求" in body and reported.title not in body
    assert r["X-Robots-Tag"].startswith("noindex")
    r = client.get(reverse("public:track"), {"code": "nonsense!"})
    assert r.status_code == 200 and "没有找到这个查询码对应的诉求" in r.content.decode()
    assert "没有找到" not in client.get(reverse("public:track")).content.decode()
    for name in ("public:submitted", "public:rate", "public:withdraw"):
        method = client.get if name == "public:submitted" else client.post
        assert method(reverse(name, args=["ZZZZZZZZZZ"])).status_code == 404


def test_the_resident_rates_once_after_resolution(client, world, reported):
    early = client.post(url(reported, "public:rate"), {"satisfaction": "satisfied"}, follow=True)
    assert "该诉求已评价过，或尚未办结" in early.content.decode()
    resolve(world, reported)
    page = client.get(url(reported)).content.decode()
    assert "已清理楼道，谢谢您的反映。" in page and "请评价办理结果" in page
    r = client.post(
        url(reported, "public:rate"),
        {"satisfaction": Satisfaction.BASICALLY, "comment": "速度可以更快"},
        follow=True,
    )
    body = r.content.decode()
    assert "感谢您的评价" in body and "您的评价：基本满意" in body and "请评价办理结果" not in body
    reported.refresh_from_db()
    assert reported.resident_rating == Satisfaction.BASICALLY
    again = client.post(url(reported, "public:rate"), {"satisfaction": "dissatisfied"}, follow=True)
    assert "该诉求已评价过" in again.content.decode()
    reported.refresh_from_db()
    assert reported.resident_rating == Satisfaction.BASICALLY
    assert reported.events.filter(kind=EventKind.RATED).count() == 1


def test_a_rating_needs_a_choice(client, world, reported):
    resolve(world, reported)
    r = client.post(url(reported, "public:rate"), {"satisfaction": "great"}, follow=True)
    assert "请选择满意度" in r.content.decode()
    reported.refresh_from_db()
    assert reported.resident_rating == ""


def test_the_resident_withdraws_an_open_demand_once(client, world, reported):
    page = client.get(url(reported)).content.decode()
    assert "data-confirm=" in page and url(reported, "public:withdraw") in page
    r = client.post(url(reported, "public:withdraw"), {"reason": "已经自己解决了"}, follow=True)
    body = r.content.decode()
    assert "诉求已撤回" in body and "已经自己解决了" in body
    reported.refresh_from_db()
    assert reported.state == State.WITHDRAWN
    again = client.post(url(reported, "public:withdraw"), {}, follow=True)
    assert "不能进行此操作" in again.content.decode()
    assert reported.events.filter(kind=EventKind.WITHDRAWN).count() == 1
    assert url(reported, "public:withdraw") not in again.content.decode()


def test_a_resolved_demand_cannot_be_withdrawn(client, world, reported):
    resolve(world, reported)
    r = client.post(url(reported, "public:withdraw"), follow=True)
    assert "不能进行此操作" in r.content.decode()
    reported.refresh_from_db()
    assert reported.state == State.RESOLVED


def test_the_rating_and_withdrawal_only_take_post(client, world, reported):
    assert client.get(url(reported, "public:rate")).status_code == 405
    assert client.get(url(reported, "public:withdraw")).status_code == 405


def test_a_merged_demand_shows_the_main_steps_and_answer(client, world, reported):
    main = submit(
        world.household_a2,
        title="1栋楼道杂物",
        description="李淑芬的原话：太乱了",
        reporter=world.resident_a2,
        photos=[a_photo("theirs.jpg")],
    )
    actions.merge_demand(reported, into=main, by=world.worker_a)
    actions.dispatch_demand(main, by=world.worker_a, to_user=world.grid_worker_a)
    actions.claim_demand(main, by=world.grid_worker_a)
    actions.add_note(
        main,
        by=world.grid_worker_a,
        text="答复照片见附件",
        public=True,
        photos=[a_photo("answer.jpg")],
    )
    actions.resolve_demand(main, by=world.grid_worker_a, answer="杂物已全部清走。")
    actions.rate_by_resident(main, satisfaction=Satisfaction.DISSATISFIED, comment="李淑芬不满意")
    r = client.get(url(reported))
    body = r.content.decode()
    assert "合并办理" in body and main.number in body
    assert "杂物已全部清走。" in body and "答复照片见附件" in body
    # In the answer card and once in the steps, though both demands record the resolution.
    assert body.count("杂物已全部清走。") == 2
    assert "太乱了" not in body and "李淑芬" not in body and "李*" not in body
    names = [p.original_name for p in r.context["photos"]]
    assert names == ["mine.jpg", "answer.jpg"]
    assert "请评价办理结果" not in body  # the reporter of the duplicate rates nothing here
    theirs = main.attachments.get(original_name="theirs.jpg")
    answer = main.attachments.get(original_name="answer.jpg")
    photo = reverse("public:photo", args=[reported.tracking_code, theirs.pk])
    assert client.get(photo).status_code == 404
    photo = reverse("public:photo", args=[reported.tracking_code, answer.pk])
    assert client.get(photo).status_code == 200


def test_it_shows_the_answers_to_the_extra_questions(client, world):
    d = submit(world.community_a, category=category("infrastructure"), extra={"facility": "路灯"})
    body = client.get(url(d)).content.decode()
    assert "设施类型" in body and "路灯" in body


def test_photos_are_served_only_through_their_code(client, world, reported):
    actions.add_note(
        reported, by=world.worker_a, text=INTERNAL, public=False, photos=[a_photo("internal.jpg")]
    )
    mine = reported.attachments.get(original_name="mine.jpg")
    internal = reported.attachments.get(original_name="internal.jpg")
    r = client.get(reverse("public:photo", args=[reported.tracking_code, mine.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert r["X-Robots-Tag"].startswith("noindex")
    assert b"".join(r.streaming_content).startswith(b"\xff\xd8")
    assert (
        client.get(reverse("public:photo", args=[reported.tracking_code, internal.pk])).status_code
        == 404
    )
    other = submit(world.household_b1, title="别人的")
    assert (
        client.get(reverse("public:photo", args=[other.tracking_code, mine.pk])).status_code == 404
    )


def test_the_page_needs_the_same_few_queries_for_3_or_30_steps(
    client, world, reported, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url(reported))
    for i in range(27):
        actions.add_note(reported, by=world.worker_a, text=f"进展 {i}", public=i % 2 == 0)
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as many:
        r = client.get(url(reported))
    assert len(many.captured_queries) == len(few.captured_queries)
    assert r.content.decode().count("进展") == 14
    assert DemandEvent.objects.filter(demand=reported).count() == 30


def test_a_tracking_code_is_ten_characters_read_out_without_doubt():
    from collections import Counter

    from tongxin.demands.models import _CODE_ALPHABET, new_tracking_code

    codes = [new_tracking_code() for _ in range(32_000)]
    assert all(len(c) == 10 and set(c) <= set(_CODE_ALPHABET) for c in codes)
    assert not set("01OI") & set("".join(codes))  # nothing to mishear over the phone
    assert len(set(codes)) == len(codes)
    # Every character as likely as any other: 10,000 of each expected, a standard
    # deviation of about 100.
    counts = Counter("".join(codes))
    assert len(counts) == 32 and all(9_000 < n < 11_000 for n in counts.values()), counts
