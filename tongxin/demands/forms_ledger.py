"""The ledger's filter (问题台账的筛选): the form, its choices limited to the user's scope,
and the filtered demands. Without a request, so that a background export rebuilds the
very rows the page showed from the user and the query string it kept."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongxin.accounts.models import User
from tongxin.accounts.scope import Scope, scope_for
from tongxin.areas.models import Area, Level
from tongxin.core.forms import DayInput, StyledForm
from tongxin.demands.ledger import LedgerFilter, Light, Outcome
from tongxin.demands.models import Category, Channel, State, Tier

_AREA_LEVELS = (Level.COMMUNITY, Level.ESTATE, Level.ZONE)
# The filters under "更多筛选", folded away unless one of them is set; the due ones last.
_FOLDED = ("tier", "light", "channel", "handler", "date_from", "date_to")
_FOLDED_DUE = ("due_from", "due_to", "outcome")
# How long the list of handlers to filter by is kept.
HANDLERS_SECONDS = 300


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
        area.queryset = scope.areas().filter(level__constant_in=_AREA_LEVELS)

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


def ledger_scope(user: User) -> Scope:
    """The user's scope, if the ledger is for them (staff whose work covers an area)."""
    scope = scope_for(user)
    if not scope.sees_area_tree:
        raise PermissionDenied
    return scope


def filtered(
    user: User, params: QueryDict, scope: Scope | None = None
) -> tuple[LedgerFilterForm, QuerySet, dt.datetime]:
    """(the form, the demands it selects within the user's scope, now) for the filter
    in ``params`` (a query string's values). The scope is the user's as it is now."""
    scope = scope or ledger_scope(user)
    form, now = filter_form(user, params, scope)
    return form, form.to_filter().apply(scope.demands(user), now), now


def filter_form(
    user: User, params: QueryDict, scope: Scope
) -> tuple[LedgerFilterForm, dt.datetime]:
    """The form of :func:`filtered` and its now, for a caller that applies the filter
    itself (the ledger's page, a part of the scope at a time)."""
    return LedgerFilterForm(params or None, scope=scope, user=user), timezone.now()


def filter_query(params: QueryDict) -> str:
    """The filter part of a query string, spelt one way: the form's fields in a fixed
    order, empty values and the page's cursor left out. Two links to the same filter
    give the same text (a repeated export is recognised by it)."""
    kept = QueryDict(mutable=True)
    for name in LedgerFilterForm.base_fields:
        values = [v for v in params.getlist(name) if v]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()
