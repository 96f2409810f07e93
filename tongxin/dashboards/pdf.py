"""The briefing as a PDF (WeasyPrint, Noto Sans CJK SC from fonts-noto-cjk). Charts are
hand-drawn SVG bars in the page: no JavaScript runs in a PDF."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from tongxin.dashboards.charts import bars


def render_pdf(brief, request: HttpRequest | None = None) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango, which only the PDF needs

    html = render_to_string(
        "dashboards/briefing_pdf.html",
        {"brief": brief, "bars": bars(brief.top_categories)},
        request=request,
    )
    return HTML(string=html).write_pdf()
