"""Forms of the T4 dispatch meeting (区一线办调度会): a decision per agenda item, and
the meeting's minutes."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongxin.accounts.models import User, UserRole
from tongxin.core.forms import StyledForm
from tongxin.demands import clock

# Who a meeting can make responsible: staff who answer for an area, and the
# departments' case officers.
RESPONSIBLE_ROLES = (
    UserRole.DISTRICT_OFFICE,
    UserRole.STREET_OFFICE,
    UserRole.CADRE,
    UserRole.COMMUNITY_WORKER,
)
# The time limit offered first: ten working days from now.
DEFAULT_LIMIT_DAYS = 10


def responsible_people() -> list[User]:
    """Everyone a decision may name, read once for the whole agenda."""
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(role__in=RESPONSIBLE_ROLES) | Q(departments__isnull=False))
        .exclude(role=UserRole.RESIDENT)
        .select_related("area")
        .distinct()
        .order_by("area__path", "role", "full_name", "pk")
    )


def person_label(user: User) -> str:
    where = f"·{user.area.name}" if user.area_id else ""
    return f"{user.full_name or user.username}（{user.get_role_display()}{where}）"


class DecisionForm(StyledForm, forms.Form):
    """The meeting's decision on one demand: who answers for it, by when, and what."""

    minutes = forms.CharField(
        label=_("讨论记录"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    decision = forms.CharField(
        label=_("决定"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("写明由谁牵头、怎么办、居民能得到什么答复。"),
    )
    assignee = forms.TypedChoiceField(label=_("责任人"), coerce=int)
    due = forms.DateTimeField(
        label=_("完成时限"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(
        self,
        *args,
        people: list[User],
        now: dt.datetime | None = None,
        due: dt.datetime | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.now = now or timezone.now()
        self.people = {u.pk: u for u in people}
        self.fields["assignee"].choices = [
            ("", _("请选择责任人")),
            *[(u.pk, person_label(u)) for u in people],
        ]
        if not self.is_bound:
            due = due or clock.deadline_after(self.now, DEFAULT_LIMIT_DAYS, "days")
            self.initial.setdefault("due", timezone.localtime(due).replace(tzinfo=None))

    def clean_assignee(self) -> User:
        return self.people[self.cleaned_data["assignee"]]

    def clean_due(self) -> dt.datetime:
        due = self.cleaned_data["due"]
        if due <= self.now:
            raise forms.ValidationError(_("完成时限必须晚于现在。"))
        return due


class MeetingNotesForm(StyledForm, forms.Form):
    notes = forms.CharField(
        label=_("会议纪要"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "参会人员、研究的问题和总体要求。保存后本次会议标记为已召开，未作决定的事项转入下次会议。"
        ),
    )
