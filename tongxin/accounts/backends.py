"""Signing in with username and password (Django's ModelBackend), and the signed-in user
of every request read together with the area their role covers: every page asks for it
(the data scope, the top bar), which was a query of its own on each request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from tongxin.accounts.models import User


class AccountBackend(ModelBackend):
    def get_user(self, user_id):
        try:  # .get(): no ORDER BY to build, as .first() would
            user = User.objects.select_related("area").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
