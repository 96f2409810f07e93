from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.scope import Scope
from tongxin.areas.models import Area, Level
from tongxin.core.forms import DayInput, StyledForm
from tongxin.people.models import CareTag, Resident


class ResidentForm(StyledForm, forms.ModelForm):
    care_tags = forms.MultipleChoiceField(
        choices=CareTag.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("关爱标签"),
    )

    class Meta:
        model = Resident
        fields = ["name", "gender", "birth_date", "id_number", "phone", "relation", "note"]
        widgets = {
            "birth_date": DayInput(),
            "note": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["care_tags"] = self.instance.tag_list

    def clean_id_number(self) -> str | None:
        value = (self.cleaned_data.get("id_number") or "").strip()
        return value or None

    def save(self, commit: bool = True) -> Resident:
        resident = super().save(commit=False)
        resident.tag_list = self.cleaned_data.get("care_tags", [])
        if commit:
            resident.save()
        return resident


class BuildingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return obj.address_label  # type: ignore[attr-defined]


class NewResidentForm(ResidentForm):
    """Registering a new resident also says where they live: building, unit, room."""

    building = BuildingChoiceField(queryset=Area.objects.none(), label=_("楼栋"))
    unit = forms.CharField(label=_("单元"), max_length=20)
    room = forms.CharField(label=_("房号"), max_length=20)

    field_order = [
        "name",
        "gender",
        "birth_date",
        "id_number",
        "phone",
        "building",
        "unit",
        "room",
        "relation",
        "care_tags",
        "note",
    ]

    def __init__(self, *args, scope: Scope, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        buildings = list(scope.areas().filter(level=Level.BUILDING).order_by("path")[:3000])
        # Label each building by its estate so "1栋" is told apart across estates.
        estates = {
            a.path: a.name
            for a in Area.objects.filter(
                path__in={b.path[: 4 * d] for b in buildings for d in range(1, b.depth)},
                level=Level.ESTATE,
            )
        }
        for b in buildings:
            estate = next(
                (
                    estates[b.path[: 4 * d]]
                    for d in range(b.depth - 1, 0, -1)
                    if b.path[: 4 * d] in estates
                ),
                "",
            )
            b.address_label = f"{estate} {b.name}".strip()
        self.fields["building"].queryset = scope.areas().filter(level=Level.BUILDING)
        self.fields["building"].choices = [("", "---------")] + [
            (b.pk, b.address_label) for b in buildings
        ]
