"""The problem ledger (问题台账) pages: the filtered list with its figures, and the same
list as an Excel file.

The ledger is for staff whose work covers an area (grid workers, community workers,
cadres, the street and district offices, administrators): it lists everyone's demands
in that area. Party members and residents get 403; they follow their own demands on
their own pages (my orders, the tracking page)."""

from __future__ import annotations

import tempfile

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tongxin.accounts.models import User
from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level
from tongxin.audit.models import AuditEntry, record
from tongxin.core.forms import StyledForm
from tongxin.demands import ledger, metrics
from tongxin.demands.ledger import Cursor, LedgerFilter, Light, Outcome
from tongxin.demands.models import Category, Channel, State, Tier

_AREA_LEVELS = (Level.COMMUNITY, Level.ESTATE, Level.ZONE)
# The filters under "更多筛选", folded away unless one of them is set; the due ones last.
_FOLDED = ("tier", "light", "channel", "handler", "date_from", "date_to")
_FOLDED_DUE = ("due_from", "due_to", "outcome")


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
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("至"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    # The rows behind the rates: when the demands fell due (应结案, docs/metrics.md), and
    # how they stand now. The dashboards link their rates here.
    due_from = forms.DateField(
        label=gettext_lazy("应结案日期从"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    due_to = forms.DateField(
        label=gettext_lazy("应结案日期至"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    outcome = forms.ChoiceField(
        label=gettext_lazy("结案情况"),
        required=False,
        choices=[("", gettext_lazy("全部结案情况")), *Outcome.choices],
    )

    def __init__(self, *args, scope: Scope, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = scope.areas().filter(level__in=_AREA_LEVELS).order_by("path")
        # Whoever handles a demand in scope: a grid worker, a party member, or the
        # district office once a demand has gone up to T4.
        handlers = scope.demands(user).filter(handler__isnull=False).values("handler_id")
        self.fields["handler"].queryset = User.objects.filter(pk__in=handlers).order_by(
            "full_name", "pk"
        )

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


def _ledger_scope(user: User) -> Scope:
    scope = scope_for(user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    return scope


def _filtered(request: HttpRequest):
    scope = _ledger_scope(request.user)
    form = LedgerFilterForm(request.GET or None, scope=scope, user=request.user)
    now = timezone.now()
    demands = form.to_filter().apply(scope.demands(request.user), now)
    return form, demands, now


@login_required
@require_GET
def ledger_list(request: HttpRequest) -> HttpResponse:
    form, demands, now = _filtered(request)
    token = request.GET.get("cursor", "")
    cursor = Cursor.decode(token)
    page = ledger.page_of(ledger.for_rows(demands), cursor)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "form": form,
        "conditions": form.to_filter().parts(),
        "page": page,
        "rows": ledger.rows(page.rows, now),
        "figures": metrics.figures(demands, now=now),
        "cursor_refused": bool(token) and cursor is None,
        "export_query": params.urlencode(),
        "nav_section": "ledger",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "ledger-results":
        return render(request, "demands/ledger.html#results", context)
    return render(request, "demands/ledger.html", context)


@login_required
@require_GET
def ledger_export(request: HttpRequest) -> HttpResponse:
    form, demands, now = _filtered(request)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，请修正后再导出。"))
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
