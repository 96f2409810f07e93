"""``{% work_badges d light %}``: the signs beside a demand (state, traffic light, tier,
缓办), drawn by the same Python function as the ledger's rows (tongxin/demands/html.py)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from tongxin.demands import html
from tongxin.demands.models import Demand

register = template.Library()


@register.simple_tag
def work_badges(
    d: Demand, light: str, state_label: str | None = None, tier_label: str | None = None
) -> SafeString:
    return html.work_badges(
        state=d.state,
        state_label=state_label or d.get_state_display(),
        tier=d.tier,
        tier_label=tier_label or d.get_tier_display(),
        light=light,
        postponed=d.postponed,
    )
