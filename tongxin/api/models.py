"""API tokens: a key per user, or per integration (a 12345 hotline, a mini-program),
created and revoked by administrators. Only a hash of the key is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongxin.core.prepared import Prepared

PREFIX_LENGTH = 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """An API key (接口密钥). It acts as ``user``: the same data scope as on the pages.
    An integration gets a user of its own (e.g. role street_office for a hotline that
    reports into one street), so what it may see is decided the same way."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", _("个人")
        INTEGRATION = "integration", _("系统对接")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.PERSONAL)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("代表用户"),
    )
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("接口密钥")
        verbose_name_plural = _("接口密钥")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(
        cls, *, name: str, user, kind: str = Kind.PERSONAL, created_by=None
    ) -> tuple[ApiToken, str]:
        """A new token and its key. The key is shown once; only its hash is kept."""
        key = secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name,
            user=user,
            kind=kind,
            created_by=created_by,
            prefix=key[:PREFIX_LENGTH],
            key_hash=hash_key(key),
        )
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        if not key or len(key) > 200:
            return None
        # Every call with a key reads its token: the query is built once per process.
        return cls.used(_TOKENS.get("active", _active_token, hash_key(key)))

    @classmethod
    def reading(cls, key: str) -> tuple[str, list, Callable[[list], list]] | None:
        """The read of :meth:`authenticate` as a statement to run inside another (the
        rate limit's count, on PostgreSQL): its SQL, parameters, and what makes its
        row the token. None for a key that cannot be one."""
        if not key or len(key) > 200:
            return None
        return _TOKENS.statement("active", _active_token, hash_key(key))

    @classmethod
    def used(cls, token: ApiToken | None) -> ApiToken | None:
        """``token`` as :meth:`authenticate` answers it, once read."""
        if token is not None:
            now = timezone.now()
            # Written at most once a minute: a busy integration must not write per request.
            if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
                cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


def _active_token(key_hash: str) -> models.QuerySet[ApiToken]:
    # The user's area comes along: every endpoint scopes by it (scope_for). The hash is
    # unique: no ORDER BY needed (the model's ordering would add one).
    return (
        ApiToken.objects.active().select_related("user__area").filter(key_hash=key_hash).order_by()
    )


_TOKENS = Prepared()


class RateCount(models.Model):
    """The requests of one rate bucket (a key, a signed-in user, a client address) in
    its current minute, shared by every app process (limits.py). One row per bucket,
    counted up by one statement and reset when a new minute begins."""

    bucket = models.CharField(max_length=120, primary_key=True)
    minute = models.IntegerField(db_index=True)  # Unix time // 60
    hits = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.bucket}: {self.hits} @ {self.minute}"
