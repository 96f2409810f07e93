from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.models import User
from tongxin.areas.models import Area, Responsibility, Role
from tongxin.core.forms import DayInput, StyledForm


class AbsenceForm(StyledForm, forms.ModelForm):
    class Meta:
        model = Responsibility
        fields = ["absent_from", "absent_until", "absence_reason"]
        widgets = {
            "absent_from": DayInput(),
            "absent_until": DayInput(),
        }

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("absent_from"), data.get("absent_until")
        if start is None and end is None:
            raise forms.ValidationError(_("请填写离岗起止日期（至少一项）。"))
        if start and end and end < start:
            self.add_error("absent_until", _("离岗结束日期不能早于开始日期。"))
        return data


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.username} · {obj.get_role_display()})"


class AddResponsibleForm(StyledForm, forms.Form):
    user = PersonChoiceField(
        queryset=User.objects.none(), label=_("人员"), empty_label=_("请选择人员")
    )
    role = forms.ChoiceField(choices=Role.choices, label=_("职责"))

    def __init__(self, *args, area: Area, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.area = area
        # People whose own area lies on this node's branch: its community and below.
        community = area.ancestor_at(30) or area
        taken = area.responsibilities.values_list("user_id", flat=True)
        self.fields["user"].queryset = (
            User.objects.filter(is_active=True, area__path__startswith=community.path)
            .exclude(pk__in=taken)
            .order_by("full_name")
        )
