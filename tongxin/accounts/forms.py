from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.text import get_text_list
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, Level
from tongxin.core.forms import StyledForm


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码不正确。连续输错多次将被暂时锁定。"),
        "inactive": _("该账号已停用，请联系管理员。"),
    }


# Which area level each role's area must be at (None: no area).
ROLE_AREA_LEVELS: dict[str, tuple[int, ...] | None] = {
    UserRole.RESIDENT: None,
    UserRole.ADMIN: None,
    UserRole.GRID_WORKER: (Level.ESTATE, Level.ZONE, Level.BUILDING),
    UserRole.COMMUNITY_WORKER: (Level.COMMUNITY,),
    UserRole.PARTY_MEMBER: (Level.COMMUNITY,),
    UserRole.CADRE: (Level.COMMUNITY,),
    UserRole.STREET_OFFICE: (Level.STREET,),
    UserRole.DISTRICT_OFFICE: (Level.DISTRICT,),
}


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return f"{'　' * (obj.depth - 1)}{obj.name} ({obj.get_level_display()})"


class UserForm(StyledForm, forms.ModelForm):
    area = AreaChoiceField(
        queryset=Area.objects.above_households().exclude(level=Level.BUILDING),
        required=False,
        label=_("负责区域"),
    )
    password = forms.CharField(
        label=_("初始密码"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("新建账号必填；修改时留空表示不变。"),
    )

    class Meta:
        model = User
        fields = ["username", "full_name", "role", "area", "phone", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["full_name"].required = True
        self.fields["role"].required = True

    def clean(self) -> dict:
        data = super().clean()
        role, area = data.get("role"), data.get("area")
        levels = ROLE_AREA_LEVELS.get(role or "")
        if role and levels is None and area is not None:
            self.add_error("area", _("该角色不需要负责区域。"))
        if role and levels is not None:
            if area is None:
                self.add_error("area", _("该角色必须指定负责区域。"))
            elif area.level not in levels:
                allowed = get_text_list([str(Level(x).label) for x in levels], _("或"))
                message = _("该角色的负责区域应为：%(levels)s。") % {"levels": allowed}
                self.add_error("area", message)
        password = data.get("password")
        if not self.instance.pk and not password:
            self.add_error("password", _("新建账号必须设置初始密码。"))
        if password:
            try:
                password_validation.validate_password(password, self.instance)
            except forms.ValidationError as e:
                self.add_error("password", e)
        return data

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user
