"""Forms for taking in a demand: the resident's own page reached by QR code (群众点单)
and staff entering one for a resident (代录) from the hotline, the hall or a visit.

Both validate everything a person can get wrong, with a Chinese message, before
anything is written; :meth:`IntakeForm.submission` hands ``actions.submit_demand`` its
keyword arguments."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongxin.accounts.scope import Scope
from tongxin.areas.models import Area, Level
from tongxin.core.forms import StyledForm
from tongxin.core.prepared import Prepared
from tongxin.core.refcache import ReferenceCache
from tongxin.demands import photos
from tongxin.demands.models import Category, Channel, Satisfaction
from tongxin.people.idnumbers import clean_phone
from tongxin.people.models import Resident

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
EXTRA_PREFIX = "extra_"
# Staff enter what reached them by phone, in the hall, on a visit …; the web page, the
# wish wall and Open311 take their own demands in.
STAFF_CHANNELS = [
    (value, label)
    for value, label in Channel.choices
    if value not in (Channel.WEB, Channel.OPEN311, Channel.WISH_WALL)
]
MAX_PLACES = 1000


def new_submission_token() -> str:
    return secrets.token_urlsafe(24)


# --- photos --------------------------------------------------------------------------
class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to five photos, each checked by content and re-encoded without EXIF."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update(accept="image/*")

    def explain(self) -> None:
        """Limits in the help text and for the page's own check, in the user's language."""
        limits = {"n": photos.MAX_PHOTOS, "mb": photos.MAX_BYTES // 2**20}
        self.help_text = (
            _("可选，最多 %(n)d 张，每张不超过 %(mb)d MB。照片中的拍摄位置等信息会被自动去除。")
            % limits
        )
        self.widget.attrs.update(
            {
                "data-max-files": photos.MAX_PHOTOS,
                "data-max-bytes": photos.MAX_BYTES,
                "data-too-many": _("最多上传 %(n)d 张照片。") % limits,
                "data-too-big": _("有照片超过 %(mb)d MB，请换一张。") % limits,
            }
        )

    def clean(self, data: Any, initial: Any = None) -> list[photos.CleanPhoto]:
        uploads = [f for f in (data or []) if f]
        return photos.clean_photos(uploads)


# --- a category's extra questions -------------------------------------------------------
def _extra_field(spec: dict) -> forms.Field:
    label = str(spec.get("label") or spec.get("code"))
    required = bool(spec.get("required"))
    kind = spec.get("type", "text")
    messages = {"required": _("请填写「%(label)s」。") % {"label": label}}
    if kind == "number":
        return forms.FloatField(
            label=label,
            required=required,
            error_messages={**messages, "invalid": _("「%(label)s」应为数字。") % {"label": label}},
            widget=forms.NumberInput(
                attrs={"step": "any", "inputmode": "decimal", "class": "form-control"}
            ),
        )
    if kind == "date":
        return forms.DateField(
            label=label,
            required=required,
            error_messages={
                **messages,
                "invalid": _("「%(label)s」应为日期，如 2026-03-15。") % {"label": label},
            },
            widget=forms.DateInput(
                format="%Y-%m-%d", attrs={"type": "date", "class": "form-control"}
            ),
        )
    if kind == "choice":
        options = [str(c) for c in spec.get("choices") or []]
        return forms.ChoiceField(
            label=label,
            required=required,
            choices=[("", _("请选择")), *[(c, c) for c in options]],
            error_messages={
                "required": _("请选择「%(label)s」。") % {"label": label},
                "invalid_choice": _("请从列表中选择「%(label)s」。") % {"label": label},
            },
            widget=forms.Select(attrs={"class": "form-select"}),
        )
    return forms.CharField(
        label=label,
        required=required,
        max_length=200,
        error_messages=messages,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


def _stored(value: Any) -> Any:
    """A cleaned answer as it goes into the JSON column."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- places --------------------------------------------------------------------------
def place_choices(
    root: Area, levels: list[int], scope: Scope | None = None
) -> dict[int, tuple[Area, str]]:
    """{pk: (area, label)} for the nodes of ``levels`` under ``root``, each labelled with
    those above it ("仁和家园 · 1栋") from the same single query."""
    nodes = Area.objects.filter(
        path__startswith=root.path, depth__gt=root.depth, level__constant_in=levels
    )
    if scope is not None:
        nodes = scope.areas(nodes)
    names: dict[str, str] = {}
    places: dict[int, tuple[Area, str]] = {}
    for node in nodes.order_by("path")[:MAX_PLACES]:
        names[node.path] = node.name
        above = [
            names[node.path[:i]]
            for i in range(len(root.path) + Area.steplen, len(node.path), Area.steplen)
            if node.path[:i] in names
        ]
        places[node.pk] = (node, " · ".join([*above, node.name]))
    return places


# --- the forms ------------------------------------------------------------------------
def _active_category(pk: int) -> Category | None:
    # Every intake reads its category: kept for a minute per process (core.refcache);
    # inside a transaction read by a query built once per process.
    return ACTIVE_CATEGORIES.get(pk, _read_active_category)


def _read_active_category(pk: int) -> Category | None:
    return _CATEGORIES.get("active", _active_categories, pk)


def _active_categories(pk: int):
    # filter(), not first(): a primary key needs no ORDER BY (the model's ordering).
    return Category.objects.filter(is_active=True, pk=pk)


_CATEGORIES = Prepared()
ACTIVE_CATEGORIES = ReferenceCache(
    Category, lambda: {c.pk: c for c in Category.objects.filter(is_active=True).order_by()}
)


class CategoryField(forms.ModelChoiceField):
    """The category, taking the row the form has already read for its extra questions
    (``known``) instead of reading it a second time; anything else is looked up and
    checked as usual."""

    known: Category | None = None

    def to_python(self, value: Any) -> Category | None:
        known = self.known
        if known is not None and str(value).strip() == str(known.pk):
            return known
        return super().to_python(value)


class IntakeForm(StyledForm, forms.Form):
    """What every intake asks: the kind of problem, what and where, photos."""

    category = CategoryField(
        queryset=Category.objects.filter(is_active=True),
        label=gettext_lazy("问题类别"),
        empty_label=gettext_lazy("请选择"),
        error_messages={
            "required": gettext_lazy("请选择问题类别。"),
            "invalid_choice": gettext_lazy("所选类别不存在或已停用，请重新选择。"),
        },
    )
    title = forms.CharField(
        label=gettext_lazy("标题"),
        max_length=100,
        help_text=gettext_lazy("一句话说明问题，如：3单元楼道堆满杂物"),
        error_messages={
            "required": gettext_lazy("请填写标题。"),
            "max_length": gettext_lazy("标题最多 %(limit_value)d 个字。"),
        },
    )
    description = forms.CharField(
        label=gettext_lazy("详细描述"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": gettext_lazy("请描述问题的具体情况。"),
            "max_length": gettext_lazy("详细描述最多 %(limit_value)d 个字。"),
        },
    )
    place = forms.TypedChoiceField(
        label=gettext_lazy("小区/楼栋"),
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": gettext_lazy("请从列表中选择小区或楼栋。")},
    )
    address = forms.CharField(
        label=gettext_lazy("地点描述"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("如：2栋3单元楼道口、小区东门停车场"),
        error_messages={"max_length": gettext_lazy("地点描述最多 %(limit_value)d 个字。")},
    )
    photos = PhotosField(label=gettext_lazy("照片"))
    reporter_name = forms.CharField(
        label=gettext_lazy("姓名"),
        max_length=50,
        required=False,
        error_messages={"max_length": gettext_lazy("姓名最多 %(limit_value)d 个字。")},
    )
    reporter_phone = forms.CharField(label=gettext_lazy("联系电话"), max_length=20, required=False)
    is_anonymous = forms.BooleanField(label=gettext_lazy("匿名反映"), required=False)

    place_levels = [Level.ESTATE, Level.BUILDING]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = self._token()
        self.fields["photos"].explain()
        self.fields["reporter_phone"].widget.attrs.update(inputmode="tel", autocomplete="tel")
        self.fields["reporter_name"].widget.attrs["autocomplete"] = "name"
        self.chosen_category = self._chosen("category", _active_category)
        self.fields["category"].known = self.chosen_category
        self.extra_names: list[str] = []
        if self.chosen_category is not None:
            for spec in self.chosen_category.extra_fields or []:
                if isinstance(spec, dict) and spec.get("code"):
                    name = f"{EXTRA_PREFIX}{spec['code']}"
                    self.fields[name] = _extra_field(spec)
                    self.extra_names.append(name)
        self._read_places: Callable[[], dict[int, tuple[Area, str]]] = dict

    # -- helpers for subclasses and templates --
    def _value(self, name: str) -> str:
        raw = self.data.get(name) if self.is_bound else self.initial.get(name)
        return str(getattr(raw, "pk", raw) or "").strip()

    def _chosen(self, name: str, lookup):
        value = self._value(name)
        return lookup(int(value)) if value.isdigit() else None

    def _token(self) -> str:
        """The posted token while it is well-formed (a correction keeps it), else new."""
        posted = str(self.data.get("submission_token", "")) if self.is_bound else ""
        return posted if TOKEN_RE.match(posted) else new_submission_token()

    def set_places(
        self, places: Callable[[], dict[int, tuple[Area, str]]], empty_label: str
    ) -> None:
        """The places offered, read when first needed (the page shows them, a chosen
        one is checked): a submission that names none does not read them."""
        self._read_places = places
        self.__dict__.pop("places", None)
        self.fields["place"].choices = lambda: [
            ("", empty_label),
            *[(pk, label) for pk, (_a, label) in self.places.items()],
        ]

    @cached_property
    def places(self) -> dict[int, tuple[Area, str]]:
        return self._read_places()

    def live(self, url: str) -> None:
        """Changing the category reloads its extra questions (htmx, from ``url``)."""
        self.fields["category"].widget.attrs.update(
            {
                "hx-get": url,
                "hx-target": "#extra-fields",
                "hx-sync": "this:replace",
            }
        )

    @property
    def extra_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.extra_names]

    # -- validation --
    def clean(self) -> dict:
        data = super().clean()
        if not TOKEN_RE.match(str(self.data.get("submission_token", ""))):
            raise ValidationError(_("页面已过期，请检查内容后重新提交。"))
        data["extra"] = {
            name.removeprefix(EXTRA_PREFIX): _stored(data[name])
            for name in self.extra_names
            if data.get(name) not in (None, "")
        }
        data["place_area"] = self.places[data["place"]][0] if data.get("place") else None
        if data.get("is_anonymous"):
            data["reporter_name"] = data["reporter_phone"] = ""
        elif data.get("reporter_phone"):
            try:
                data["reporter_phone"] = clean_phone(data["reporter_phone"])
            except ValidationError as e:
                self.add_error("reporter_phone", e)
        return data

    def area(self) -> Area:  # pragma: no cover - each form knows its own
        raise NotImplementedError

    def submission(self) -> dict[str, Any]:
        """The keyword arguments for ``actions.submit_demand``."""
        d = self.cleaned_data
        return {
            "area": self.area(),
            "category": d["category"],
            "title": d["title"],
            "description": d["description"],
            "address": d.get("address", ""),
            "extra": d["extra"],
            "reporter_name": d.get("reporter_name", ""),
            "reporter_phone": d.get("reporter_phone", ""),
            "is_anonymous": bool(d.get("is_anonymous")),
            "photos": d.get("photos") or [],
            "submission_token": self.token,
        }


class PublicReportForm(IntakeForm):
    """A resident's own report from the community's QR code (群众点单)."""

    # A field people never see: a bot that fills every input gives itself away.
    website = forms.CharField(required=False, label=gettext_lazy("请勿填写"))

    def __init__(self, *args: Any, community: Area, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.community = community
        self.fields["reporter_name"].label = gettext_lazy("您的姓名")
        self.fields["is_anonymous"].help_text = gettext_lazy(
            "勾选后不需填写姓名和电话，也不会保存。"
        )
        self.fields["website"].widget.attrs.update(tabindex="-1", autocomplete="off")
        self.set_places(
            lambda: place_choices(community, self.place_levels),
            _("不选（只填写下面的地点描述）"),
        )

    def clean(self) -> dict:
        if self.data.get("website"):
            raise ValidationError(_("提交未成功，请刷新页面后重试。"))
        data = super().clean()
        if not data.get("is_anonymous"):
            if not data.get("reporter_name", "").strip():
                self.add_error("reporter_name", _("请填写您的姓名，或勾选“匿名反映”。"))
            if not self.data.get("reporter_phone", "").strip():
                self.add_error(
                    "reporter_phone",
                    _("请填写联系电话，方便社区联系您；不愿留下可勾选“匿名反映”。"),
                )
        return data

    def area(self) -> Area:
        return self.cleaned_data["place_area"] or self.community


class CommunityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        if obj.level == Level.COMMUNITY:
            return obj.name
        return f"{obj.name}（{obj.get_level_display()}）"


class StaffIntakeForm(IntakeForm):
    """Staff entering a demand that reached them by phone, in the hall, on station day,
    on a visit, in a WeChat/QQ group or the suggestion box (代录)."""

    channel = forms.ChoiceField(
        label=gettext_lazy("来源渠道"),
        choices=STAFF_CHANNELS,
        initial=Channel.HOTLINE,
        error_messages={
            "required": gettext_lazy("请选择来源渠道。"),
            "invalid_choice": gettext_lazy("请从列表中选择来源渠道。"),
        },
    )
    community = CommunityChoiceField(
        queryset=Area.objects.none(),
        label=gettext_lazy("社区"),
        required=False,
        empty_label=gettext_lazy("请选择"),
        error_messages={"invalid_choice": gettext_lazy("所选社区不在您的管辖范围内。")},
    )
    reporter = forms.IntegerField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": gettext_lazy("请重新选择反映人。")},
    )

    place_levels = [Level.ESTATE, Level.ZONE, Level.BUILDING]
    field_order = ["channel", "category"]

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope
        self.fields["reporter_name"].label = gettext_lazy("反映人姓名")
        self.fields["reporter_phone"].help_text = gettext_lazy(
            "可选；手机11位，座机如 0813-1234567。"
        )
        self.fields["is_anonymous"].help_text = gettext_lazy(
            "反映人不愿留下姓名时勾选：不保存姓名和电话。"
        )
        roots = intake_roots(scope)
        self.fields["community"].queryset = roots
        if len(roots) == 1 and not self.is_bound:
            self.initial.setdefault("community", roots[0].pk)
        self.chosen_root = root = self._chosen("community", lambda pk: roots.filter(pk=pk).first())
        self.set_places(
            lambda: place_choices(root, self.place_levels, scope) if root is not None else {},
            _("不选（整个社区，或反映人的住址）"),
        )
        self.picked = self._chosen("reporter", self._resident)

    def live(self, url: str) -> None:
        super().live(url)
        self.fields["community"].widget.attrs.update(
            {
                "hx-get": url,
                "hx-target": "#place-field",
                "hx-sync": "this:replace",
            }
        )

    def _resident(self, pk: int) -> Resident | None:
        found = self.scope.residents().select_related("household").filter(pk=pk).first()
        return found if found is not None and self.scope.may_change_resident(found) else None

    def clean_reporter(self) -> Resident | None:
        pk = self.cleaned_data.get("reporter")
        if pk is None:
            return None
        if self.picked is None or self.picked.pk != pk:
            raise ValidationError(_("所选居民不在您的管辖范围内，请重新选择。"))
        return self.picked

    def clean(self) -> dict:
        data = super().clean()
        reporter = data.get("reporter")
        if data.get("is_anonymous") and reporter is not None:
            self.add_error("is_anonymous", _("匿名反映时不能同时选择登记居民作为反映人。"))
        elif not data.get("is_anonymous") and reporter is None and not data.get("reporter_name"):
            self.add_error(
                "reporter_name", _("请从居民名册中选择反映人，或填写反映人姓名，或勾选“匿名反映”。")
            )
        if reporter is not None:
            # A snapshot of the contact at the time of the report, as the ledger keeps it.
            data["reporter_name"] = data.get("reporter_name") or reporter.name
            data["reporter_phone"] = data.get("reporter_phone") or reporter.phone
        if not (data.get("place_area") or data.get("community") or reporter):
            self.add_error("community", _("请选择社区，或从居民名册中选择反映人。"))
        return data

    def area(self) -> Area:
        d = self.cleaned_data
        root, reporter = d.get("community"), d.get("reporter")
        if d.get("place_area") is not None:
            return d["place_area"]
        if reporter is not None and (root is None or reporter.household.path.startswith(root.path)):
            return reporter.household
        return root

    def submission(self) -> dict[str, Any]:
        return {
            **super().submission(),
            "channel": self.cleaned_data["channel"],
            "reporter": self.cleaned_data.get("reporter"),
        }


def intake_roots(scope: Scope):
    """Where a staff member can place a demand: the communities in their scope, or, for
    someone whose work lies inside one community (a grid worker), their own area."""
    communities = scope.areas().filter(level=Level.COMMUNITY).order_by("path")
    if communities.exists() or scope.area is None:
        return communities
    return Area.objects.filter(pk=scope.area.pk)


# --- the reporter's own steps on the tracking page ----------------------------------------
class RatingForm(StyledForm, forms.Form):
    satisfaction = forms.ChoiceField(
        label=gettext_lazy("您对办理结果是否满意？"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": gettext_lazy("请选择满意度。"),
            "invalid_choice": gettext_lazy("请选择满意度。"),
        },
    )
    comment = forms.CharField(
        label=gettext_lazy("意见和建议"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": gettext_lazy("意见和建议最多 %(limit_value)d 个字。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["satisfaction"].widget.attrs["class"] = "form-check-input"


class WithdrawForm(StyledForm, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("撤回原因"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("可选，如：问题已自行解决。"),
        error_messages={"max_length": gettext_lazy("撤回原因最多 %(limit_value)d 个字。")},
    )
