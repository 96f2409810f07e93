from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.models import User
from tongxin.api.models import ApiToken


class TokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "kind", "user"]
        help_texts = {
            "user": _("密钥以此用户的身份和数据范围访问；系统对接请先为它建一个专用用户。"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(is_active=True).order_by("username")
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = css


class RevokeForm(forms.Form):
    confirm = forms.BooleanField(label=_("确认吊销：使用此密钥的系统将立即无法访问"))
