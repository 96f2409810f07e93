from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from tongxin.accounts.forms import SignInForm, UserForm
from tongxin.accounts.models import User, UserRole
from tongxin.accounts.scope import scope_for
from tongxin.audit.models import AuditEntry, record


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


def _require_user_admin(request: HttpRequest) -> None:
    if not scope_for(request.user).can_manage_users:
        raise PermissionDenied


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    _require_user_admin(request)
    users = User.objects.select_related("area").order_by("role", "username")
    q = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    if q:
        users = users.filter(Q(username__icontains=q) | Q(full_name__contains=q))
    if role in UserRole.values:
        users = users.filter(role=role)
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/user_list.html",
        {"page": page, "q": q, "role": role, "roles": UserRole.choices, "nav_section": "users"},
    )


@login_required
def user_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_user_admin(request)
    user = get_object_or_404(User, pk=pk) if pk else None
    form = UserForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        if user is not None and user.pk == request.user.pk and not form.cleaned_data["is_active"]:
            form.add_error("is_active", _("不能停用自己的账号。"))
        else:
            saved = form.save()
            changed = ", ".join(f for f in form.changed_data if f != "password")
            if form.cleaned_data.get("password"):
                changed = f"{changed}, password" if changed else "password"
            record(
                request,
                AuditEntry.Action.USER_ADMIN,
                saved,
                ("新建" if user is None else "修改") + f": {changed}",
            )
            messages.success(request, _("账号 %(name)s 已保存。") % {"name": saved.username})
            return redirect("users")
    return render(
        request,
        "accounts/user_form.html",
        {"form": form, "edited": user, "nav_section": "users"},
    )


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not scope_for(request.user).everything:
        raise PermissionDenied
    entries = AuditEntry.objects.select_related("user")
    action = request.GET.get("action", "")
    if action in AuditEntry.Action.values:
        entries = entries.filter(action=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "accounts/audit_log.html",
        {
            "page": page,
            "action": action,
            "actions": AuditEntry.Action.choices,
            "nav_section": "users",
        },
    )
