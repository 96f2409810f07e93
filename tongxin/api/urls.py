from django.urls import path, re_path
from django.urls.resolvers import URLPattern

from tongxin.api import views
from tongxin.api.endpoints import api
from tongxin.api.errors import error_response
from tongxin.api.limits import guarded


def _guard(patterns: list) -> list[URLPattern]:
    """Ninja's views, each behind the body-size and rate limits."""
    guarded_patterns = []
    for p in patterns:
        p.callback = guarded(p.callback)
        guarded_patterns.append(p)
    return guarded_patterns


def not_found(request, rest: str = ""):
    return error_response(404)


ninja_patterns, ninja_app, ninja_namespace = api.urls

urlpatterns = [
    path("tokens/", views.token_list, name="api_tokens"),
    path("tokens/new/", views.token_new, name="api_token_new"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
    path("v1/", (_guard(ninja_patterns), ninja_app, ninja_namespace)),
    re_path(r"^v1/(?P<rest>.*)$", guarded(not_found)),
]
