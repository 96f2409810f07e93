"""The problem ledger (问题台账) pages: the filtered list, its figures (loaded apart from
the list), and the same list as an Excel file.

The ledger is for staff whose work covers an area (grid workers, community workers,
cadres, the street and district offices, administrators): it lists everyone's demands
in that area. Party members and residents get 403; they follow their own demands on
their own pages (my orders, the tracking page)."""

from __future__ import annotations

import hashlib
import json
import tempfile

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tongxin.accounts.models import User
from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level
from tongxin.audit.models import AuditEntry, record
from tongxin.core.forms import DayInput, StyledForm
from tongxin.demands import html, ledger, metrics
from tongxin.demands.ledger import Cursor, LedgerFilter, Light, Outcome
from tongxin.demands.models import Category, Channel, State, Tier

_AREA_LEVELS = (Level.COMMUNITY, Level.ESTATE, Level.ZONE)
# The filters under "更多筛选", folded away unless one of them is set; the due ones last.
_FOLDED = ("tier", "light", "channel", "handler", "date_from", "date_to")
_FOLDED_DUE = ("due_from", "due_to", "outcome")
# How long the figures of a filter, the list of handlers to filter by, and the drawn
# filter form (its lists of areas, categories and handlers) are kept.
FIGURES_SECONDS = 60
# The most rows one export writes: about 40 s at this size on a small server, well
# inside the web server's 120 s timeout (a district's whole ledger, a million rows,
# would be cut off after two minutes with nothing to show for it).
EXPORT_LIMIT = 100_000
HANDLERS_SECONDS = 300
FORM_SECONDS = HANDLERS_SECONDS


class _AreaChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        # Full-width spaces indent estates and grids under their community.
        return "\u3000" * _AREA_LEVELS.index(obj.level) + obj.name


class LedgerFilterForm(StyledForm, forms.Form):
    """The ledger's filters; every choice is limited to what the user's scope reaches,
    so an area or handler from elsewhere is a form error, never a wider list."""

    q = forms.CharField(
        label=gettext_lazy("编号或标题"),
        max_length=50,
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "placeholder": gettext_lazy("编号、查询码或标题关键词"),
            }
        ),
    )
    area = _AreaChoice(
        label=gettext_lazy("区域"),
        queryset=Area.objects.none(),
        required=False,
        empty_label=gettext_lazy("全部区域"),
    )
    category = forms.ModelChoiceField(
        label=gettext_lazy("类别"),
        queryset=Category.objects.all(),
        required=False,
        empty_label=gettext_lazy("全部类别"),
    )
    state = forms.ChoiceField(
        label=gettext_lazy("状态"),
        required=False,
        choices=[("", gettext_lazy("全部状态")), *State.choices],
    )
    tier = forms.TypedChoiceField(
        label=gettext_lazy("层级"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("全部层级")), *Tier.choices],
    )
    light = forms.ChoiceField(
        label=gettext_lazy("时限"),
        required=False,
        choices=[("", gettext_lazy("全部时限")), *Light.choices],
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("渠道"),
        required=False,
        choices=[("", gettext_lazy("全部渠道")), *Channel.choices],
    )
    handler = forms.ModelChoiceField(
        label=gettext_lazy("责任人"),
        queryset=User.objects.none(),
        required=False,
        empty_label=gettext_lazy("全部责任人"),
    )
    date_from = forms.DateField(
        label=gettext_lazy("反映日期从"),
        required=False,
        widget=DayInput(),
    )
    date_to = forms.DateField(
        label=gettext_lazy("至"),
        required=False,
        widget=DayInput(),
    )
    # The rows behind the rates: when the demands fell due (应结案, docs/metrics.md), and
    # how they stand now. The dashboards link their rates here.
    due_from = forms.DateField(
        label=gettext_lazy("应结案日期从"),
        required=False,
        widget=DayInput(),
    )
    due_to = forms.DateField(
        label=gettext_lazy("应结案日期至"),
        required=False,
        widget=DayInput(),
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("结案情况"),
        required=False,
        choices=[("", gettext_lazy("全部结案情况")), *Outcome.choices],
    )

    def __init__(self, *args, scope: Scope, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The lists offered are read only when the form is drawn (callables), which the
        # page skips while its drawn form is in the cache (FORM_SECONDS).
        # The areas, in the tree's order: asked by level and sorted here, since with
        # ORDER BY path SQLite walks the whole subtree, households and all, where the
        # (level, path) index reads just these rows. The choice sent is checked against
        # the same queryset.
        area = self.fields["area"]
        area.queryset = scope.areas().filter(level__in=_AREA_LEVELS)

        def areas() -> list:
            rows = sorted(area.queryset.order_by("level", "path"), key=lambda a: a.path)
            return [("", area.empty_label), *((a.pk, area.label_from_instance(a)) for a in rows)]

        area.choices = areas
        # Whoever handles a demand in scope: a grid worker, a party member, or the
        # district office once a demand has gone up to T4. The one chosen is checked
        # exactly (an indexed probe); the list offered comes from the cache.
        demands = scope.demands(user)
        handler = self.fields["handler"]
        handler.queryset = User.objects.filter(
            Exists(demands.filter(handler=OuterRef("pk")))
        ).order_by("full_name", "pk")
        handler.choices = lambda: [
            ("", handler.empty_label),
            *_handler_choices(user, scope, demands),
        ]

    def clean(self) -> dict:
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", _("截止日期不能早于起始日期。"))
        first, last = data.get("due_from"), data.get("due_to")
        if first and last and first > last:
            self.add_error("due_to", _("应结案截止日期不能早于起始日期。"))
        return data

    def to_filter(self) -> LedgerFilter:
        """The valid part of what was asked: a field in error is left out (and shown)."""
        if not self.is_bound:
            return LedgerFilter()
        self.is_valid()  # cleaned_data then holds the fields that passed
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        return LedgerFilter(**data)

    @property
    def has_more(self) -> bool:
        """Whether a filter from the folded part is set (then it opens)."""
        return any(self.data.get(k) for k in (*_FOLDED, *_FOLDED_DUE))


def _form_key(request: HttpRequest, scope: Scope, params) -> str:
    """What the drawn filter form depends on: whose scope, the language, and the filter
    as asked (the values shown, the errors); the page's cursor is not part of it."""
    asked = sorted((k, v) for k, values in params.lists() for v in values)
    text = json.dumps([scope.cache_key(request.user), get_language(), asked])
    return hashlib.sha256(text.encode()).hexdigest()


def _handler_choices(user: User, scope: Scope, demands) -> list[tuple[int, str]]:
    """(pk, name) of everyone handling a demand in scope, by name. Finding them reads
    the whole scope, so the list is kept HANDLERS_SECONDS."""
    key = f"ledger:handlers:{scope.cache_key(user)}"
    choices = cache.get(key)
    if choices is None:
        handled = demands.filter(handler__isnull=False).order_by().values_list("handler_id")
        if connection.vendor == "postgresql":
            ids = set(handled.distinct().values_list("handler_id", flat=True))
        else:  # SQLite would walk the handler index of the whole table for DISTINCT
            ids = set(handled.values_list("handler_id", flat=True))
        users = User.objects.filter(pk__in=ids).order_by("full_name", "pk")
        choices = [(u.pk, str(u)) for u in users]
        cache.set(key, choices, HANDLERS_SECONDS)
    return choices


def _ledger_scope(user: User) -> Scope:
    scope = scope_for(user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    return scope


def _filtered(request: HttpRequest, scope: Scope | None = None):
    scope = scope or _ledger_scope(request.user)
    form = LedgerFilterForm(request.GET or None, scope=scope, user=request.user)
    now = timezone.now()
    demands = form.to_filter().apply(scope.demands(request.user), now)
    return form, demands, now


@login_required
@require_GET
def ledger_list(request: HttpRequest) -> HttpResponse:
    """One page of the rows, by keyset: a fixed number of small queries however many
    demands match (two more when the page shows units or departments as handlers). The
    figures of the filter come separately (:func:`ledger_figures`)."""
    scope = _ledger_scope(request.user)
    params = request.GET.copy()
    params.pop("cursor", None)
    token = request.GET.get("cursor", "")
    cursor = Cursor.decode(token)
    if params:
        form, demands, now = _filtered(request, scope)
        wanted = form.to_filter()
        page = ledger.page_of(ledger.for_page(demands), cursor)
    else:
        # Nothing asked: the whole scope, the page opened most. The form is built only
        # when it is drawn, which the page skips while the drawn one is in the cache
        # (building it was a tenth of the page's time), and the query of the rows once
        # per scope (it depends on nothing else).
        now = timezone.now()
        form = SimpleLazyObject(lambda: LedgerFilterForm(scope=scope, user=request.user))
        wanted = LedgerFilter()
        page = ledger.page_of(
            lambda: ledger.for_page(wanted.apply(scope.demands(request.user), now)),
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
    scope = _ledger_scope(request.user)
    form, demands, now = _filtered(request, scope)
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
@require_GET
def ledger_export(request: HttpRequest) -> HttpResponse:
    form, demands, now = _filtered(request)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，请修正后再导出。"))
        return redirect(f"{reverse('demands:ledger')}?{request.GET.urlencode()}")
    total = demands.count()
    if total > EXPORT_LIMIT:
        messages.error(
            request,
            _(
                "当前筛选共 %(total)s 条诉求，一次最多导出 %(limit)s 条。"
                "请缩小时间范围或区域（例如按月、按社区）后分批导出。"
            )
            % {"total": f"{total:,}", "limit": f"{EXPORT_LIMIT:,}"},
        )
        return redirect(f"{reverse('demands:ledger')}?{request.GET.urlencode()}")
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
