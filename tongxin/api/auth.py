"""Who is calling: an API key (``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``)
acts as the user it was issued for; a signed-in browser acts as itself (reads, and
writes with a CSRF token). Either way ``request.user`` is that user, so every endpoint
scopes with :func:`tongxin.accounts.scope.scope_for` exactly as the pages do."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from tongxin.api.models import ApiToken


def _accept(request: HttpRequest, key: str | None) -> ApiToken | None:
    # On PostgreSQL the rate limit's count has read the key's token already.
    read = getattr(request, "api_token_read", None)
    if read is not None and key and read[0] == key:
        token = ApiToken.used(read[1])
    else:
        token = ApiToken.authenticate(key or "")
    if token is not None:
        request.user = token.user
        request.api_token = token
    return token


class BearerKey(HttpBearer):
    openapi_description = "Authorization: Bearer <接口密钥>"

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        return _accept(request, token)


class HeaderKey(APIKeyHeader):
    param_name = "X-Api-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiToken | None:
        return _accept(request, key)


class Session(SessionAuth):
    """The signed-in browser (the reference page's "Try it out"); unsafe methods need
    the CSRF token, as ninja's SessionAuth checks."""

    def authenticate(self, request: HttpRequest, key: str | None):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


def key_in(request: HttpRequest) -> str:
    """The key a request carries, before it is checked (for the rate limiter)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-Api-Key", "").strip()


AUTH = [BearerKey(), HeaderKey(), Session()]
