"""The monthly briefing: the page, the PDF and its Chinese text, who may have it."""

from __future__ import annotations

import io
import sys

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from tongxin.board import hot
from tongxin.dashboards.tests.story import NOW, at, march, new

PAGE = reverse("dashboards:briefing")
PDF = reverse("dashboards:briefing_pdf", args=[2026, 3])


@pytest.fixture
def story(world):
    # A demand in February makes March the second issue.
    february = new(world, at(20, month=2), at(25, month=2), title="噪音扰民")
    return {"feb": february, **march(world)}


def get(client, user, url, **params):
    client.force_login(user)
    with time_machine.travel(NOW, tick=False):
        return client.get(url, params)


def pdf_text(response) -> str:
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages)


HEADLINE = "本月共收集群众诉求 4 件，办结 1 件，结案率 33.33%，按期结案率 33.33%。"


def test_it_writes_the_headline_in_words(client, world, story):
    response = get(client, world.street_office, PAGE, month="2026-03")
    assert response.status_code == 200
    html = response.content.decode()
    assert "龙井街 群众诉求办理简报 2026年第2期" in html
    assert HEADLINE in html
    assert "回访 2 件，满意率 50.00%；返工 1 件，返工率 100.00%。" in html
    assert "平均办结时长 2.0 天。" in html
    assert "截至目前仍有 3 件超期未办结。" in html  # feb, b1, a2


def test_it_makes_a_pdf_with_the_chinese_figures(client, world, story):
    response = get(client, world.street_office, PDF)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response).replace("\n", "")
    assert "龙井街 群众诉求办理简报 2026年第2期" in text
    assert "本月共收集群众诉求 4 件" in text
    assert "结案率 33.33%" in text
    assert "满意率 50.00%" in text


def test_it_lists_cases_overdue_and_hot_topics_without_personal_data(client, world, story):
    with time_machine.travel(NOW, tick=False):
        hot.link_pending()  # the background worker's minutely run
    response = get(client, world.street_office, PAGE, month="2026-03")
    brief = response.context["brief"]
    assert [c.number for c in brief.cases] == [story["a1"].number]
    assert brief.cases[0].place == "仁和社区 仁和家园"
    # Still open past the deadline now, whenever collected: the longest overdue first.
    overdue = [story[k].number for k in ("feb", "b1", "a2")]
    assert [o.number for o in brief.overdue] == overdue
    assert brief.overdue[1].days == 16  # deadline 9 March 9:00, now 25 March 12:00
    # a2 and a3 in community A; a1 and b1 alike too, but in two communities.
    assert [(t.title, t.count, t.place) for t in brief.hot] == [
        ("路灯不亮", 2, "仁和社区 仁和家园")
    ]
    assert [s.label for s in brief.top_categories] == ["环境卫生", "物业管理"]
    html = response.content.decode()
    pdf = pdf_text(get(client, world.street_office, PDF))
    for private in ("张三", "13800001234", "101", "1栋", "网格员甲"):
        assert private not in html.split('id="briefing-title"')[1]
        assert private not in pdf
    assert "138****1234" in html


def test_it_is_for_one_month(client, world, story):
    response = get(client, world.street_office, PAGE, month="2026-02")
    assert "本月共收集群众诉求 1 件" in response.content.decode()
    assert "2026年第1期" in response.content.decode()


@pytest.mark.parametrize("name", ["street_office", "district_office", "admin"])
def test_it_serves_the_offices(client, world, story, name):
    assert get(client, getattr(world, name), PAGE).status_code == 200
    assert get(client, getattr(world, name), PDF).status_code == 200


@pytest.mark.parametrize(
    "name", ["worker_a", "grid_worker_a", "cadre_a", "party_member_a", "resident_user_a"]
)
def test_it_refuses_everyone_else(client, world, name):
    assert get(client, getattr(world, name), PAGE).status_code == 403
    assert get(client, getattr(world, name), PDF).status_code == 403


def test_it_refuses_a_month_that_is_not(client, world):
    url = reverse("dashboards:briefing_pdf", args=[2026, 13])
    assert get(client, world.street_office, url).status_code == 400


def test_it_runs_a_fixed_number_of_queries(client, world, story):
    client.force_login(world.street_office)

    def count() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as q:
            assert client.get(PAGE, {"month": "2026-03"}).status_code == 200
        return len(q)

    before = count()
    for day in range(6, 16):
        new(world, at(day), at(day + 3), area=world.household_b1, title=f"问题{day}")
    assert count() == before


def test_it_counts_repeated_titles_without_the_board(client, world, story, monkeypatch):
    monkeypatch.setitem(sys.modules, "tongxin.board", None)  # import fails
    brief = get(client, world.street_office, PAGE, month="2026-03").context["brief"]
    assert [(t.title, t.count) for t in brief.hot] == [("楼道堆放杂物", 2), ("路灯不亮", 2)]
