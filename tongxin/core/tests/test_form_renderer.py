"""Widgets are drawn by Jinja2 from Django's own Jinja2 templates, with the same markup
as Django's template engine draws; the admin's widgets, which have no Jinja2 version,
still draw."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.forms import renderers
from django.forms.renderers import get_default_renderer
from django.template.backends.jinja2 import Template as JinjaTemplate

from tongxin.core.forms import DayInput, FormRenderer, StyledForm


class Every(StyledForm, forms.Form):
    text = forms.CharField(label="标题", max_length=20, help_text="不超过 20 字")
    note = forms.CharField(label="说明", widget=forms.Textarea, required=False)
    choice = forms.ChoiceField(label="类别", choices=[("a", "环境<卫生>"), ("b", "治安 & 安全")])
    pick = forms.ChoiceField(
        label="承办人", widget=forms.RadioSelect, choices=[("1", "张三"), ("2", '李"四"')]
    )
    many = forms.MultipleChoiceField(
        label="标签",
        widget=forms.CheckboxSelectMultiple,
        choices=[("x", "独居"), ("y", "低保")],
        required=False,
    )
    agree = forms.BooleanField(label="同意", required=False)
    day = forms.DateField(label="日期", widget=DayInput, required=False)
    seen = forms.CharField(widget=forms.HiddenInput, required=False)
    photo = forms.ImageField(label="照片", required=False)


class _Tokens(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.tokens.append(("<", tag, sorted(attrs, key=lambda a: a[0])))

    def handle_endtag(self, tag):
        self.tokens.append(("/", tag))

    def handle_data(self, data):
        if text := " ".join(data.split()):
            self.tokens.append(("text", text))


def _markup(html) -> list[tuple]:
    """The markup as a browser reads it: tags, attributes and texts, entities undone and
    white space collapsed (the engines differ there: a blank line, &#34; for &quot;)."""
    parser = _Tokens()
    parser.feed(str(html))
    return parser.tokens


@pytest.mark.parametrize("bound", [False, True])
def test_every_widget_draws_as_djangos_template_engine_draws_it(bound):
    """The same tags, attributes and escaped texts, tag for tag."""
    data = {"text": "<b>楼道</b>", "choice": "b", "pick": "2", "many": ["x"], "seen": "7"}
    form = Every(data if bound else None, initial={"note": "a & b"})
    assert get_default_renderer().__class__ is FormRenderer
    django_renderer = renderers.DjangoTemplates()
    for name in form.fields:
        ours = form[name].as_widget()
        form.renderer = django_renderer
        theirs = form[name].as_widget()
        form.renderer = get_default_renderer()
        assert _markup(ours) == _markup(theirs), name
    if bound:
        assert "&lt;b&gt;楼道&lt;/b&gt;" in str(form["text"])
        assert 'value="b" selected' in str(form["choice"])


def test_it_draws_with_jinja2_and_falls_back_for_the_admin():
    renderer = get_default_renderer()
    assert isinstance(renderer.get_template("django/forms/widgets/input.html"), JinjaTemplate)
    widget = admin_widgets.AdminDateWidget()
    html = widget.render("day", None, renderer=renderer)
    assert 'class="vDateField' in html and 'name="day"' in html
