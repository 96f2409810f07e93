from __future__ import annotations

from django.http import HttpRequest

from tongxin.accounts.scope import scope_for


def navigation(request: HttpRequest) -> dict:
    """What the top bar offers depends on what the user's scope reaches; staff and
    party members also see how many of their messages are unread (read with the
    signed-in user, accounts.backends; counted here for a user loaded otherwise)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = scope_for(user)
    context: dict = {"nav_scope": scope}
    if scope.sees_area_tree or scope.sees_party_orgs:
        from tongxin.demands.models import Notification

        context["nav_works"] = True
        unread = getattr(user, "unread_count", None)
        if unread is None:
            unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
        context["unread_count"] = unread
    return context
