"""The ledger's own HTML helpers draw exactly what Django's would."""

from __future__ import annotations

import pytest
from django.utils import html as django_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy, override

from tongxin.demands import html, ledger

VALUES = [
    "楼道灯不亮",
    '<script>alert("x")</script>',
    "a & b 'quoted'",
    "{花括号}",
    mark_safe("<b>safe</b>"),
    gettext_lazy("已超期"),
    42,
    "",
]


@pytest.mark.parametrize("value", VALUES)
def test_format_html_escapes_as_django_does(value):
    template = '<td data-label="x">{}</td><td>{v}</td>'
    assert html.format_html(template, value, v=value) == django_html.format_html(
        template, value, v=value
    )


def test_format_html_marks_its_result_safe_and_nests():
    inner = html.format_html("<i>{}</i>", "<x>")
    outer = html.format_html("<b>{}</b>", inner)
    assert outer == "<b><i>&lt;x&gt;</i></b>"
    assert hasattr(outer, "__html__")


def test_labels_follow_the_language():
    with override("zh-hans"):
        zh_columns, zh_words = html.Columns.current(), ledger.Words.current()
    with override("en"):
        en_columns, en_words = html.Columns.current(), ledger.Words.current()
    assert zh_columns.number == "编号" and en_columns.number != "编号"
    assert 'data-label="编号"' in zh_columns.row_format
    assert 'data-label="编号"' not in en_columns.row_format
    assert zh_words.overdue == "已超期" and en_words.overdue != "已超期"


@pytest.mark.parametrize(
    ("text", "length"),
    [("短文本", 40), ("一" * 40, 40), ("一" * 41, 40), ("e\u0301" * 30, 40), ("", 30)],
)
def test_shorten_is_truncators_result(text, length):
    shortened = ledger.shorten(text, length)
    assert shortened == Truncator(text).chars(length)
    assert len(shortened) <= len(text)
