"""The ledger's own HTML helpers draw exactly what Django's would."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.utils import html as django_html
from django.utils import timezone
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
def test_a_label_is_escaped_as_format_html_escapes_it(value):
    assert html._escape(value) == str(django_html.conditional_escape(value))


class _Cells(HTMLParser):
    """The text of each cell of a row, as a browser reads it (entities undone)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cells: dict[str, str] = {}
        self.tags: list[str] = []
        self._label = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self._label = dict(attrs)["data-label"]
            self.cells[self._label] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._label = None

    def handle_data(self, data):
        if self._label is not None:
            self.cells[self._label] += data


HOSTILE = '<img src=x onerror="alert(1)">&amp;{x}'


def test_every_text_of_a_row_reaches_the_reader_as_typed(world):
    """Whatever anyone typed — the resident's name, title, description and the answer,
    a category, a place's name, a handler's name — is text in its cell: the row parses
    to the same cells holding exactly those texts, and no tag but the row's own."""
    from tongxin.demands import actions
    from tongxin.demands.models import Category, Demand
    from tongxin.demands.testing import submit

    demand = submit(
        world.household_a1,
        title="标题" + HOSTILE,
        description="描述" + HOSTILE,
        reporter_name="张" + HOSTILE,
    )
    Category.objects.filter(pk=demand.category_id).update(name="类别" + HOSTILE)
    world.household_a1.__class__.objects.filter(pk=world.grid_a.pk).update(name="网格" + HOSTILE)
    world.worker_a.__class__.objects.filter(pk=world.worker_b.pk).update(full_name="办" + HOSTILE)
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.worker_a)
    Demand.objects.filter(pk=demand.pk).update(
        handler=world.worker_b, public_answer="答复" + HOSTILE
    )
    page = ledger.for_page(Demand.objects.filter(pk=demand.pk))
    (row,) = ledger.rows(list(page), timezone.now())
    columns = html.Columns.current()
    drawn = html.ledger_row(row, columns)
    parser = _Cells()
    parser.feed(drawn)
    assert set(parser.tags) <= {"tr", "td", "a", "div", "span", "i"}
    cells = parser.cells
    assert cells[columns.text] == row.title + row.summary
    assert row.title == "标题" + HOSTILE and HOSTILE in row.summary
    assert cells[columns.category] == "类别" + HOSTILE
    assert ("网格" + HOSTILE) in cells[columns.place]
    assert cells[columns.handler] == "办" + HOSTILE
    assert cells[columns.note] == row.note and row.note.startswith("答复<img")
    assert cells[columns.reporter] == row.reporter and row.reporter.startswith("张")
    assert cells[columns.number] == row.number


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
