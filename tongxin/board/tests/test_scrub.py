import pytest

from tongxin.board.scrub import scrub


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("电话13800001234请回电", "13800001234"),
        ("电话138 0000 1234", "138 0000 1234"),
        ("座机0825-1234567", "1234567"),
        ("身份证510321198001011233丢了", "510321198001011233"),
        ("身份证51032119800101123X", "51032119800101123X"),
        ("3单元502漏水", "502"),
        ("我家502室漏水", "502"),
        ("5栋2单元301的狗", "301"),
        ("5栋301室", "301"),
        ("住5-2-301", "301"),
    ],
)
def test_it_masks_numbers_that_identify_a_person(text, gone):
    assert gone not in scrub(text)


def test_it_masks_the_given_names_and_addressed_family_names():
    out = scrub("张三反映，李淑芬家门口，王先生和赵阿姨也说", names=["张三", "李淑芬"])
    for name in ("张三", "李淑芬", "淑芬", "王先生", "赵阿姨"):
        assert name not in out
    assert "某先生" in out and "某阿姨" in out


def test_it_keeps_what_the_public_should_read():
    text = "3栋楼道堆满杂物，已于2026年3月5日清理完毕，共清出12车。"
    assert scrub(text) == text
