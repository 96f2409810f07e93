"""Forms of the staff side of the loop: one small form per step on the demand page.

Every form carries ``seen``, the id of the newest event the page knew: the view does
the step only if nothing has happened since (see ``actions.unchanged_since``), so a
form sent twice does its step once."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.models import User, UserRole
from tongxin.core.forms import StyledForm
from tongxin.core.prepared import Prepared
from tongxin.demands import actions, photos
from tongxin.demands.models import Demand, Department, Satisfaction
from tongxin.people.models import CoBuildingUnit


class ActionForm(StyledForm, forms.Form):
    seen = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, demand: Demand, *args, seen: int | None = None, **kwargs) -> None:
        self.demand = demand
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["seen"] = seen if seen is not None else actions.last_event_id(demand)
        for field in self.fields.values():
            if isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs["class"] = "form-check-input"
            elif isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.pop("class", None)


def user_label(user: User) -> str:
    return f"{user.full_name or user.username}（{user.get_role_display()}）"


def community_staff(demand: Demand) -> QuerySet[User]:
    """Who can be given a demand by hand: the active staff and party members of its
    community and the places below it."""
    return _staff_within(demand.community.path)


def _staff_within(path: str) -> QuerySet[User]:
    return (
        User.objects.filter(is_active=True, area__path__startswith=path)
        .exclude(role=UserRole.RESIDENT)
        .order_by("role", "full_name", "pk")
    )


def staff_list(demand: Demand) -> list[User]:
    """:func:`community_staff` as a list, by a query built once per process (every new
    demand's page shows it)."""
    return _STAFF.list("within", _staff_within, demand.community.path)


def _units_of(community_id: int) -> QuerySet[CoBuildingUnit]:
    return CoBuildingUnit.objects.filter(communities=community_id).order_by("name")


def _departments_at(*area_ids: int) -> QuerySet[Department]:
    return Department.objects.filter(Q(area__isnull=True) | Q(area__in=area_ids))


_STAFF = Prepared()
_UNITS = Prepared()
_DEPARTMENTS = Prepared(size=8)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return user_label(obj)


class DispatchForm(ActionForm):
    """派单: to a person (suggested ones first), the party-member pool, a co-building
    unit or a department. The button pressed says which."""

    TARGETS = [
        ("user", _("派给承办人")),
        ("pool", _("派到党员认领池")),
        ("unit", _("派给共建单位")),
        ("department", _("派给职能部门")),
    ]
    target = forms.ChoiceField(
        choices=TARGETS,
        widget=forms.HiddenInput,
        error_messages={
            "required": _("请选择派单对象。"),
            "invalid_choice": _("请选择派单对象。"),
        },
    )
    user = UserChoiceField(
        label=_("承办人"), queryset=User.objects.none(), required=False, empty_label=_("请选择")
    )
    unit = forms.ModelChoiceField(
        label=_("共建单位"),
        queryset=CoBuildingUnit.objects.none(),
        required=False,
        empty_label=_("请选择"),
    )
    department = forms.ModelChoiceField(
        label=_("职能部门"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("请选择"),
    )
    note = forms.CharField(
        label=_("派单说明（内部）"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, demand: Demand, *args, **kwargs) -> None:
        super().__init__(demand, *args, **kwargs)
        self.suggestions = actions.suggest_handlers(demand)
        suggested = [u.pk for u, _why, _load in self.suggestions]
        places = [a.pk for a in demand.area.ancestors_and_self()]
        if self.is_bound:
            # A choice sent is checked against these querysets. The page shows the
            # lists read below, each once, by queries built once per process.
            self.fields["user"].queryset = User.objects.filter(
                Q(pk__in=suggested) | Q(pk__in=community_staff(demand).values("pk")),
                is_active=True,
            )
            self.fields["unit"].queryset = _units_of(demand.community_id)
            self.fields["department"].queryset = _departments_at(*places)
        others = [(u.pk, user_label(u)) for u in staff_list(demand) if u.pk not in suggested]
        recommended = [
            (
                u.pk,
                _("%(name)s（%(why)s，在办 %(load)d 件）")
                % {"name": u.full_name or u.username, "why": why, "load": load},
            )
            for u, why, load in self.suggestions
        ]
        choices: list = [("", _("请选择"))]
        if recommended:
            choices.append((_("推荐承办人"), recommended))
        if others:
            choices.append((_("社区其他人员"), others))
        self.fields["user"].choices = choices
        lists = {
            "unit": _UNITS.list("of", _units_of, demand.community_id),
            "department": _DEPARTMENTS.list(len(places), _departments_at, *places),
        }
        for name, rows in lists.items():
            field = self.fields[name]
            field.choices = [("", field.empty_label)] + [
                (row.pk, field.label_from_instance(row)) for row in rows
            ]
            setattr(self, f"has_{name}s", bool(rows))  # an empty list is left out

    def clean(self) -> dict:
        data = super().clean()
        target = data.get("target")
        missing = {
            "user": _("请选择承办人。"),
            "unit": _("请选择共建单位。"),
            "department": _("请选择职能部门。"),
        }
        if target in missing and not data.get(target):
            self.add_error(target, missing[target])
        return data

    def destination(self) -> dict:
        """The keyword arguments of ``actions.dispatch_demand`` for the chosen target."""
        target = self.cleaned_data["target"]
        if target == "pool":
            return {"to_pool": True}
        key = {"user": "to_user", "unit": "to_unit", "department": "to_department"}[target]
        return {key: self.cleaned_data[target]}


class StartForm(ActionForm):
    note = forms.CharField(label=_("说明（内部，可不填）"), required=False, max_length=500)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to five photos, each checked and re-encoded (EXIF dropped)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list[photos.CleanPhoto]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        return photos.clean_photos(files)


class NoteForm(ActionForm):
    text = forms.CharField(
        label=_("办理情况"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写办理情况。")},
    )
    public = forms.BooleanField(label=_("作为答复公开给反映人"), required=False)
    photos = PhotosField(label=_("照片（最多 5 张）"), required=False)


class ResolveForm(ActionForm):
    answer = forms.CharField(
        label=_("给反映人的答复"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("答复会显示在反映人的查询页上，请写清办理结果。"),
        error_messages={"required": _("办结时必须填写给居民的答复。")},
    )


class ReasonForm(ActionForm):
    reason = forms.CharField(
        label=_("原因"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请说明原因。")},
    )


class ReturnForm(ReasonForm):
    """退回: back to the dispatcher, with the reason."""


class PostponeForm(ReasonForm):
    """缓办: handled later, out of the rates' denominator."""


class ResumeForm(ReasonForm):
    """恢复办理: a postponed demand taken up again, with a fresh time limit."""


class TransferForm(ReasonForm):
    to_user = UserChoiceField(
        label=_("转给"),
        queryset=User.objects.none(),
        empty_label=_("请选择"),
        error_messages={
            "required": _("请选择转办对象。"),
            "invalid_choice": _("只能转办给本社区的人员。"),
        },
    )

    field_order = ["to_user", "reason"]

    def __init__(self, demand: Demand, *args, **kwargs) -> None:
        super().__init__(demand, *args, **kwargs)
        people = community_staff(demand)
        if demand.handler_id:
            people = people.exclude(pk=demand.handler_id)
        self.fields["to_user"].queryset = people


NUMBER = re.compile(r"^#?(?:(?P<year>\d{4})-)?0*(?P<pk>\d{1,12})$")


class MergeForm(ActionForm):
    """合并: this demand is a duplicate of another one, given by its number or id."""

    into = forms.CharField(
        label=_("主诉求编号"),
        max_length=30,
        help_text=_(
            "填写编号（如 2026-000123）或序号（123）。本诉求将随主诉求一并办理、一并答复。"
        ),
    )

    def __init__(self, demand: Demand, *args, reachable: QuerySet[Demand], **kwargs) -> None:
        super().__init__(demand, *args, **kwargs)
        self.reachable = reachable

    def clean_into(self) -> Demand:
        raw = self.cleaned_data["into"].strip().replace(" ", "")
        match = NUMBER.match(raw)
        target = None
        if match:
            target = self.reachable.filter(pk=int(match["pk"])).first()
            if target and match["year"] and int(match["year"]) != target.created_at.year:
                target = None
        if target is None:
            raise ValidationError(
                _("找不到编号为「%(n)s」的诉求（或不在您的管辖范围内）。") % {"n": raw}
            )
        if target.pk == self.demand.pk:
            raise ValidationError(_("不能把诉求合并到它自己。"))
        return target


class VisitForm(ActionForm):
    """回访 after resolution: 满意 / 基本满意 / 不满意 (不满意 reopens it)."""

    satisfaction = forms.ChoiceField(
        label=_("回访满意度"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择满意度。")},
    )
    comment = forms.CharField(
        label=_("回访记录"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
