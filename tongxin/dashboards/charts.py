"""Chart data: plain lists for ECharts on the pages (passed through json_script and
drawn by static/dashboards/dashboards.js), and bar lengths for the PDF's SVG bars."""

from __future__ import annotations

from django.utils.translation import gettext as _


def _rate(rate) -> float | None:
    pct = rate.percent()
    return None if pct is None else float(pct)


def _shares(shares) -> dict:
    return {"labels": [s.label for s in shares], "values": [s.count for s in shares]}


def dashboard_data(trend, breakdown, rows) -> dict:
    return {
        "trend": {
            "labels": [d.strftime("%Y-%m") for d, _f in trend],
            "series": [
                {"name": _("收集"), "values": [f.collected for _d, f in trend]},
                {"name": _("办结"), "values": [f.resolved for _d, f in trend]},
            ],
        },
        "category": _shares(breakdown.by_category),
        "channel": _shares(breakdown.by_channel),
        "tier": _shares(breakdown.by_tier),
        "communities": {
            "labels": [r.community.name for r in rows],
            "series": [
                {
                    "name": _("结案率"),
                    "values": [_rate(r.headline.figures.resolution_rate) for r in rows],
                },
                {
                    "name": _("按期结案率"),
                    "values": [_rate(r.headline.figures.on_time_rate) for r in rows],
                },
                {
                    "name": _("满意率"),
                    "values": [_rate(r.headline.figures.satisfaction_rate) for r in rows],
                },
            ],
        },
    }


def briefing_data(brief) -> dict:
    return {"category": _shares(brief.top_categories)}


def bars(shares, width: int = 300) -> list[tuple[str, int, int]]:
    """(label, count, bar length in px) for a hand-drawn SVG bar chart."""
    top = max((s.count for s in shares), default=0) or 1
    return [(s.label, s.count, max(1, round(width * s.count / top))) for s in shares]
