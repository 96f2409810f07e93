"""What goes in and out of the API. Personal data leaves only masked: a resident's ID
number and phone as 510***********1233 and 138****1234, a reporter's name as 张*."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import BaseModel, StringConstraints

# No NUL: PostgreSQL cannot store it in text, and no person types one.
NO_NUL = r"^[^\x00]*$"
MAX_ID = 2**53  # beyond it a database integer may overflow; no row has such an id

Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Out(BaseModel):
    """What the API answers with: made from the dicts the endpoints build
    (``endpoints.demand_out`` and the like), so plain pydantic, validated in its own
    compiled code. (ninja's ``Schema`` reads every field of its input through a Python
    getter, for ORM objects: a third of answering a new demand.)"""


class PageParams(Schema):
    page: int = Field(1, ge=1, le=100_000, description="页码，从 1 开始")
    page_size: int = Field(30, ge=1, le=100, description="每页条数（最多 100）")


class Page(Out):
    count: int
    page: int
    page_size: int
    next_page: int | None


# --- areas ------------------------------------------------------------------------------
class AreaFilters(PageParams):
    level: int | None = Field(None, ge=0, le=100, description="层级：10 区 … 70 户")
    parent: Id | None = Field(None, description="只列此节点的直接下级")


class AreaOut(Out):
    id: int
    name: str
    level: int
    level_label: str
    parent_id: int | None
    depth: int


class AreaPage(Page):
    items: list[AreaOut]


# --- residents --------------------------------------------------------------------------
class ResidentFilters(PageParams):
    q: Text | None = Field(None, max_length=50, description="姓名、拼音、电话尾号或地址")
    tag: str | None = Field(None, max_length=40, description="关爱标签代码，如 hardship")
    area: Id | None = Field(None, description="只列此区域之内的居民")


class ResidentOut(Out):
    id: int
    name: str
    gender: str
    id_number_masked: str
    phone_masked: str
    household_id: int
    address: str
    tags: list[str]


class ResidentPage(Page):
    items: list[ResidentOut]


# --- categories and demands ----------------------------------------------------------------
class CategoryOut(Out):
    id: int
    code: str
    name: str
    description: str
    time_limit: int
    time_unit: str
    extra_fields: list[Any]


class DemandFilters(PageParams):
    state: str | None = Field(None, max_length=20, description="状态代码，如 submitted")
    category: Text | None = Field(None, max_length=40, description="类别代码")
    community: Id | None = Field(None, description="社区 id")
    since: dt.date | None = Field(None, description="反映日期不早于（含）")
    until: dt.date | None = Field(None, description="反映日期不晚于（含）")
    cursor: str | None = Field(
        None,
        description="翻页标记：上一页答复中的 next_cursor，取其后（更早）的一页。"
        "带翻页标记时不可再指定 page，答复不计总数（count 为 null）。",
    )


class Named(Out):
    id: int
    name: str


class DemandOut(Out):
    id: int
    number: str
    title: str
    category: Named
    state: str
    state_label: str
    tier: int
    channel: str
    community: Named
    area_id: int
    reporter: str = Field(description="反映人（已脱敏）")
    created_at: dt.datetime
    deadline: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    satisfaction: str


class DemandPage(Page):
    count: int | None = Field(
        description="范围内符合条件的诉求总数；按翻页标记（cursor）取的页不计总数，为 null"
    )
    page: int | None = Field(description="页码；按翻页标记（cursor）取的页没有页码，为 null")
    next_page: int | None = Field(
        description="下一页的页码，最后一页为 null；按翻页标记取的页请用 next_cursor"
    )
    next_cursor: str | None = Field(
        description="下一页（更早的诉求）的翻页标记，作为 cursor 参数传回；最后一页为 null"
    )
    items: list[DemandOut]


class EventOut(Out):
    at: dt.datetime
    kind: str
    kind_label: str
    text: str
    public: bool
    state_after: str


class DemandDetailOut(DemandOut):
    description: str
    address: str
    public_answer: str
    events: list[EventOut]


class DemandIn(Schema):
    area: Id = Field(description="位置：社区或其下的任一节点的 id")
    category: Text = Field(max_length=40, description="类别代码（见 /categories）")
    title: Text = Field(min_length=1, max_length=100)
    description: Text = Field(min_length=1, max_length=5000)
    address: Text = Field("", max_length=200)
    reporter_name: Text = Field("", max_length=50)
    reporter_phone: Text = Field("", max_length=20)
    is_anonymous: bool = False
    channel: str | None = Field(
        None, max_length=20, description="渠道；缺省时系统对接密钥为 hotline，其余为 web"
    )


class DemandCreatedOut(DemandDetailOut):
    tracking_code: str = Field(description="查询码：反映人凭此在 /track/ 查看进度")


# --- metrics ------------------------------------------------------------------------------
class MetricsFilters(Schema):
    since: dt.date | None = None
    until: dt.date | None = None
    community: Id | None = None


class RateOut(Out):
    numerator: int
    denominator: int
    percent: float | None


class MetricsOut(Out):
    since: dt.date | None
    until: dt.date | None
    collected: int
    due: int
    postponed: int
    resolved: int
    resolved_on_time: int
    visits: int
    rework: int
    resolution_rate: RateOut
    on_time_rate: RateOut
    satisfaction_rate: RateOut
    rework_rate: RateOut
