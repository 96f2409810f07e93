"""The problem ledger (问题台账) pages: the filtered list, its figures (loaded apart from
the list), and the same list as an Excel file.

The ledger is for staff whose work covers an area (grid workers, community workers,
cadres, the street and district offices, administrators): it lists everyone's demands
in that area. Party members and residents get 403; they follow their own demands on
their own pages (my orders, the tracking page)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tongxin.accounts.scope import Scope
from tongxin.audit.models import AuditEntry, record
from tongxin.demands import exports, html, ledger, metrics
from tongxin.demands.forms_ledger import (
    HANDLERS_SECONDS,
    LedgerFilterForm,
    filter_form,
    filter_query,
    filtered,
    ledger_scope,
)
from tongxin.demands.ledger import Cursor, LedgerFilter

# How long the figures of a filter and the drawn filter form (its lists of areas,
# categories and handlers) are kept.
FIGURES_SECONDS = 60
FORM_SECONDS = HANDLERS_SECONDS
# The most rows one export writes while the user waits (a few seconds); more go to a
# background job with a progress bar (tongxin.demands.exports).
EXPORT_DIRECT_LIMIT = 10_000
# The user's latest exports listed on the ledger page: older ones would only say 已过期.
MY_EXPORTS = 3
MY_EXPORTS_WITHIN = dt.timedelta(days=2)


def _form_key(request: HttpRequest, scope: Scope, params) -> str:
    """What the drawn filter form depends on: whose scope, the language, and the filter
    as asked (the values shown, the errors); the page's cursor is not part of it."""
    asked = sorted((k, v) for k, values in params.lists() for v in values)
    text = json.dumps([scope.cache_key(request.user), get_language(), asked])
    return hashlib.sha256(text.encode()).hexdigest()


@login_required
@require_GET
def ledger_list(request: HttpRequest) -> HttpResponse:
    """One page of the rows, by keyset: a fixed number of small queries however many
    demands match (two more when the page shows units or departments as handlers). The
    figures of the filter come separately (:func:`ledger_figures`)."""
    scope = ledger_scope(request.user)
    params = request.GET.copy()
    params.pop("cursor", None)
    token = request.GET.get("cursor", "")
    cursor = Cursor.decode(token)
    if params:
        form, now = filter_form(request.user, request.GET, scope)
        wanted = form.to_filter()
        # The rows of filtered(), a part of the scope at a time (page_parts).
        parts = scope.page_parts(request.user)
        page = ledger.page_of(
            tuple(ledger.for_page(wanted.apply(p, now, paged=True)) for p in parts), cursor
        )
    else:
        # Nothing asked: the whole scope, the page opened most. The form is built only
        # when it is drawn, which the page skips while the drawn one is in the cache
        # (building it was a tenth of the page's time), and the query of the rows once
        # per scope (it depends on nothing else).
        now = timezone.now()
        form = SimpleLazyObject(lambda: LedgerFilterForm(scope=scope, user=request.user))
        wanted = LedgerFilter()
        page = ledger.page_of(
            tuple(
                lambda i=i: ledger.for_page(wanted.apply(scope.page_parts(request.user)[i], now))
                for i in range(scope.page_part_count())
            ),
            cursor,
            key=("ledger", scope.demands_key(request.user)),
        )
    columns = html.Columns.current()
    rows = ledger.rows(page.rows, now)
    context = {
        "form": form,
        "form_key": _form_key(request, scope, params),
        "form_seconds": FORM_SECONDS,
        "filter_asked": bool(params),
        "conditions": wanted.parts(),
        "page": page,
        "columns": columns,
        "rows": rows,
        "rows_html": [html.ledger_row(row, columns) for row in rows],
        "page_size": ledger.PAGE_SIZE,
        "cursor_refused": bool(token) and cursor is None,
        "export_query": params.urlencode(),
        # Read only when the whole page is drawn, not for the rows alone.
        "my_exports": SimpleLazyObject(
            lambda: exports.recent_for(request.user, MY_EXPORTS, MY_EXPORTS_WITHIN)
        ),
        "nav_section": "ledger",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "ledger-results":
        return render(request, "demands/ledger.html#results", context)
    return render(request, "demands/ledger.html", context)


@login_required
@require_GET
def ledger_figures(request: HttpRequest) -> HttpResponse:
    """The counts and rates of what the ledger lists with the same filters (收集, 结案,
    the rates: metrics.figures over those rows). They read every matching row, so the
    ledger page loads them from here (htmx, or a link without JavaScript), and they are
    kept FIGURES_SECONDS for the same user, scope and filter."""
    scope = ledger_scope(request.user)
    form, demands, now = filtered(request.user, request.GET, scope)
    wanted = form.to_filter()
    digest = hashlib.sha256(wanted.key().encode()).hexdigest()
    key = f"ledger:figures:{scope.cache_key(request.user)}:{digest}"
    figures = cache.get(key)
    if figures is None:
        figures = metrics.figures(demands, now=now)
        cache.set(key, figures, FIGURES_SECONDS)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "form": form,
        "conditions": wanted.parts(),
        "figures": figures,
        "ledger_query": params.urlencode(),
        "nav_section": "ledger",
    }
    if request.headers.get("HX-Request"):
        return render(request, "demands/ledger_figures.html#figures", context)
    return render(request, "demands/ledger_figures.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def ledger_export(request: HttpRequest) -> HttpResponse:
    """The filtered ledger as an .xlsx: at once up to EXPORT_DIRECT_LIMIT rows, else as
    a background job whose page shows its progress (tongxin.demands.exports). A POST
    (the ledger's button), since it may start a job; the filter is the query string's,
    as on the ledger's links. A GET (an old link, a bookmark) goes to the ledger with
    the same filter: a link followed or prefetched starts nothing."""
    scope = ledger_scope(request.user)
    if request.method == "GET":
        messages.info(request, _("请点击“导出 Excel”导出当前筛选的台账。"))
        return redirect(f"{reverse('demands:ledger')}?{filter_query(request.GET)}")
    form, demands, now = filtered(request.user, request.GET, scope)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，请修正后再导出。"))
        return redirect(f"{reverse('demands:ledger')}?{request.GET.urlencode()}")
    # Counted no further than the limit: a district's whole ledger is not counted twice.
    if demands[: EXPORT_DIRECT_LIMIT + 1].count() > EXPORT_DIRECT_LIMIT:
        return _start_export(request, form)
    # Written to a temporary file, then streamed: memory stays flat for any size. The
    # response closes (and so deletes) the file once it is sent.
    out = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        count = ledger.write_xlsx(demands, out, now)
    except BaseException:
        out.close()
        raise
    detail = _("导出问题台账：%(filter)s；共 %(n)d 行") % {
        "filter": form.to_filter().describe(),
        "n": count,
    }
    record(request, AuditEntry.Action.EXPORT, request.user, detail)
    out.seek(0)
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    return FileResponse(
        out, as_attachment=True, filename=f"问题台账-{stamp}.xlsx", content_type=ledger.XLSX
    )


def _start_export(request: HttpRequest, form: LedgerFilterForm) -> HttpResponse:
    query = filter_query(request.GET)
    try:
        job, created = exports.start_export(request.user, query, form.to_filter().describe())
    except exports.TooManyExports:
        messages.error(
            request,
            _("您已有 %(n)d 个导出正在进行，请等其中一个完成后再导出。")
            % {"n": exports.MAX_UNDER_WAY},
        )
        return redirect(f"{reverse('demands:ledger')}?{query}")
    if not created:
        messages.info(request, _("同样的导出已在进行，没有重复导出。下面是它的进度。"))
    return redirect(job)
