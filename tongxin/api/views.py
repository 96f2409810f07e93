"""The administrators' pages for API keys (接口密钥): list, issue (the key is shown
once, only its hash is kept), revoke. Every issue and revocation is audited."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tongxin.accounts.scope import scope_for
from tongxin.api.forms import RevokeForm, TokenForm
from tongxin.api.models import ApiToken
from tongxin.audit.models import AuditEntry, record


def _require_admin(request: HttpRequest) -> None:
    if not scope_for(request.user).can_manage_users:
        raise PermissionDenied


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    tokens = ApiToken.objects.select_related("user", "created_by").order_by("-created_at")[:500]
    return render(
        request,
        "api/token_list.html",
        {"tokens": tokens, "revoke_form": RevokeForm(), "nav_section": "users"},
    )


@login_required
def token_new(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        token, key = ApiToken.issue(
            name=d["name"], user=d["user"], kind=d["kind"], created_by=request.user
        )
        record(request, AuditEntry.Action.USER_ADMIN, token, _("新建接口密钥"))
        # Shown once, on this response only: never stored, never in a redirect URL.
        response = render(
            request, "api/token_created.html", {"token": token, "key": key, "nav_section": "users"}
        )
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "api/token_form.html", {"form": form, "nav_section": "users"})


@require_POST
@login_required
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    token = get_object_or_404(ApiToken, pk=pk)
    if RevokeForm(request.POST).is_valid():
        token.revoke()
        record(request, AuditEntry.Action.USER_ADMIN, token, _("吊销接口密钥"))
        messages.success(request, _("已吊销密钥「%(name)s」。") % {"name": token.name})
    else:
        messages.error(request, _("请勾选确认后再吊销。"))
    return redirect("api_tokens")
