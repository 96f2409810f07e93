from __future__ import annotations

from django.http import HttpRequest

from tongxin.accounts.scope import scope_for


def navigation(request: HttpRequest) -> dict:
    """What the top bar offers depends on what the user's scope reaches."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = scope_for(user)
    return {"nav_scope": scope}
