import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from tongxin.board import hot as hot_links
from tongxin.board.views import board_data
from tongxin.demands import actions, metrics
from tongxin.demands.models import Demand, Satisfaction
from tongxin.demands.testing import category, submit
from tongxin.testing import ID_A1, ID_A2, ID_B1

pytestmark = pytest.mark.django_db


def board_url(area, level="community"):
    return reverse(f"board:{level}", args=[area.pk])


def resolve(demand, world, answer="已清理完毕。", satisfaction=Satisfaction.SATISFIED):
    actions.dispatch_demand(demand, by=world.worker_a, to_user=world.grid_worker_a)
    actions.resolve_demand(demand, by=world.grid_worker_a, answer=answer)
    if satisfaction:
        actions.record_return_visit(demand, by=world.worker_a, satisfaction=satisfaction)
    demand.refresh_from_db()
    return demand


def chart_json(body: str) -> dict:
    match = re.search(r'<script id="board-data" type="application/json">(.*?)</script>', body)
    return json.loads(match.group(1))


def test_it_is_public_for_communities_and_streets(client, world):
    r = client.get(board_url(world.community_a))
    assert r.status_code == 200
    assert "仁和社区镜子墙" in r.content.decode()
    assert client.get(board_url(world.street, "street")).status_code == 200


def test_it_is_404_for_unknown_ids_and_other_levels(client, world):
    assert client.get(reverse("board:community", args=[999999])).status_code == 404
    assert client.get(board_url(world.street)).status_code == 404  # a street, not a community
    assert client.get(board_url(world.community_a, "street")).status_code == 404
    assert client.get(board_url(world.district, "street")).status_code == 404
    assert client.get(board_url(world.building_a)).status_code == 404


def test_it_shows_a_dash_for_a_rate_with_nothing_to_divide(client, world):
    r = client.get(board_url(world.community_b))
    body = r.content.decode()
    assert '<div class="tx-board-value" id="rate-resolution">—</div>' in body
    assert '<div class="tx-board-value" id="rate-satisfaction">—</div>' in body


def test_its_figures_are_the_metrics_of_the_same_demands(client, world):
    now = timezone.now()
    a = [
        submit(world.building_a, title=f"问题{i}", now=now - dt.timedelta(hours=i))
        for i in range(4)
    ]
    resolve(a[0], world)
    resolve(a[1], world, satisfaction=Satisfaction.DISSATISFIED)  # reopened: rework
    actions.withdraw_demand(a[2])
    submit(world.household_b1, title="B的问题", category=category())
    board = client.get(board_url(world.community_a)).context["board"]

    demands = Demand.objects.filter(community=world.community_a)
    year = timezone.localdate().year
    period = metrics.Period.days(dt.date(year, 1, 1), dt.date(year, 12, 31))
    f = metrics.figures(demands, period)
    assert board["collected_year"] == f.collected == 4
    assert board["resolution_rate"]["text"] == str(f.resolution_rate)
    assert board["on_time_rate"]["text"] == str(f.on_time_rate)
    assert board["satisfaction_rate"]["text"] == str(f.satisfaction_rate) == "50.00%"
    months = metrics.monthly(demands)
    assert board["collected_month"] == months[-1][1].collected
    assert [(m["collected"], m["resolved"]) for m in board["trend"]] == [
        (mf.collected, mf.resolved) for _d, mf in months
    ]
    b = metrics.breakdown(demands, period)
    assert board["categories"] == [{"name": s.label, "value": s.count} for s in b.by_category]
    assert board["states"] == [{"name": s.label, "value": s.count} for s in b.by_state]

    street = client.get(board_url(world.street, "street")).context["board"]
    assert street["collected_year"] == 5


def test_it_lists_hot_topics_and_recently_resolved_cases(client, world):
    submit(world.building_a, title="3栋楼道堆满杂物", description="楼道堆满纸箱和旧家具。")
    submit(world.building_a, title="3栋楼道里纸箱很多", description="楼道里纸箱很多，没人清理。")
    done = submit(world.building_a, title="路灯不亮", description="门口路灯坏了。")
    resolve(done, world, answer="已更换灯具。")
    hot_links.link_pending()  # what the background worker does within a minute
    body = client.get(board_url(world.community_a)).content.decode()
    hot = body[body.index('id="hot-list"') : body.index('id="board-resolved"')]
    assert "3栋楼道堆满杂物" in hot and "仁和家园" in hot and "2 次" in hot
    assert "已更换灯具。" in body[body.index('id="board-resolved"') :]


# Everything here is somebody's personal data: none of it may reach the board.
SENSITIVE = [
    "张三",
    "李淑芬",
    "淑芬",
    "欧阳娜娜",
    "王五",
    "网格员甲",
    "社工甲",
    "grid_a",
    "13800001234",
    "13900005678",
    "13912345678",
    "13700009999",
    ID_A1,
    ID_A2,
    ID_B1,
    "1单元101",
    "101室",
    "2单元502",
    "502室",
    "5栋1单元301",
    "张先生",
]


def test_it_never_shows_personal_data(client, world):
    now = timezone.now()
    texts = [
        (
            "3栋楼道堆满杂物，张三反映13800001234",
            f"我是张三，身份证{ID_A1}，住1单元101室，楼道堆满纸箱。",
            {"reporter": world.resident_a1},
        ),
        (
            "3栋楼道里纸箱很多 李淑芬 2单元502",
            f"李淑芬（{ID_A2}）电话13900005678，502室门口纸箱很多。",
            {"reporter": world.resident_a2},
        ),
        (
            "欧阳娜娜家楼道杂物 13912345678",
            "欧阳娜娜：5栋1单元301楼道杂物，张先生说也受影响。",
            {"reporter_name": "欧阳娜娜", "reporter_phone": "13912345678"},
        ),
    ]
    demands = [
        submit(world.household_a1, title=t, description=d, now=now - dt.timedelta(hours=i), **kw)
        for i, (t, d, kw) in enumerate(texts)
    ]
    for d in demands[:2]:
        resolve(
            d,
            world,
            answer=(
                f"网格员甲已上门联系张三、李淑芬（13900005678，{ID_A2}），"
                "清理了1单元101室和2单元502室门口的杂物，王五和张先生表示满意。"
            ),
        )
    hot_links.link_pending()
    response = client.get(board_url(world.community_a))
    body = response.content.decode()
    data = json.dumps(chart_json(body), ensure_ascii=False)
    board = board_data(world.community_a)
    assert board["hot"] and len(board["resolved"]) == 2  # the texts are on the board...
    assert "仁和家园" in body and "楼道" in body
    for text in SENSITIVE:  # ...masked
        assert text not in body, text
        assert text not in data, text
        assert text not in json.dumps(board, ensure_ascii=False, default=str), text


def test_it_is_cheap_and_cached(client, world, django_assert_max_num_queries):
    for i in range(5):
        d = submit(world.building_a, title=f"楼道堆放杂物{i}")
        if i % 2:
            resolve(d, world)
    # The area, the rollup (its state, the marks, the sums, six live counts of today),
    # the category names, estates, names to mask, hot topics, recent answers.
    with django_assert_max_num_queries(16):
        first = client.get(board_url(world.community_a))
    submit(world.building_a, title="新的诉求")
    with django_assert_max_num_queries(1):  # the area; the board itself comes from the cache
        again = client.get(board_url(world.community_a))
    assert again.context["board"]["collected_year"] == first.context["board"]["collected_year"]
