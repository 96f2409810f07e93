"""The categories Tongxin starts with (DOMAIN.md §3): 000's four kinds, 001's, and the
common ones of Chinese community hotlines. Limits are working days unless noted;
administrators change them in /django-admin/."""

SEED_CATEGORIES = [
    # code, name, limit, unit, rule, description, extra fields
    ("environment", "环境卫生", 3, "days", "grid", "垃圾、污水、卫生死角、绿化", []),
    (
        "property",
        "物业管理",
        5,
        "days",
        "community",
        "物业服务、电梯、停车、公共设施维修",
        [
            {
                "code": "has_property_company",
                "label": "小区是否有物业",
                "type": "choice",
                "choices": ["有", "无", "不清楚"],
                "required": False,
            },
        ],
    ),
    ("culture", "文化活动", 10, "days", "community", "文体活动、场地、培训", []),
    ("party", "党员管理", 5, "days", "community", "组织关系、双报到、党员服务", []),
    ("employment", "劳动就业", 10, "days", "community", "就业帮扶、技能培训、欠薪", []),
    ("social_security", "社会保障", 10, "days", "community", "养老、救助、残疾人服务", []),
    ("livable", "宜居创建", 15, "days", "pool", "小区改造、增绿、便民设施建议", []),
    ("security", "治安", 1, "days", "grid", "治安隐患、消防通道、可疑情况", []),
    ("dispute", "矛盾纠纷", 3, "days", "grid", "邻里纠纷、家庭矛盾、物业纠纷", []),
    (
        "infrastructure",
        "基础设施",
        10,
        "days",
        "department",
        "道路、路灯、下水道、危房危树",
        [
            {
                "code": "facility",
                "label": "设施类型",
                "type": "choice",
                "choices": ["道路", "路灯", "下水道", "危房危树", "健身器材", "其他"],
                "required": True,
            },
        ],
    ),
    ("medical_subsistence", "医保低保", 10, "days", "community", "医保、低保、临时救助申请", []),
    ("housing", "住房", 15, "days", "community", "廉租房、公租房、危旧房", []),
    ("legal_aid", "法律援助", 10, "days", "community", "法律咨询、援助申请", []),
    ("other", "其他", 5, "days", "community", "其他问题和建议", []),
]


def seed_categories(category_model) -> None:
    """Create the seed categories that are missing (the migration and the tests use it;
    ``category_model`` is the historical model in a migration)."""
    for order, (code, name, limit, unit, rule, description, extra) in enumerate(SEED_CATEGORIES):
        category_model.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "time_limit": limit,
                "time_unit": unit,
                "handling_rule": rule,
                "description": description,
                "extra_fields": extra,
                "sort_order": order * 10,
            },
        )
