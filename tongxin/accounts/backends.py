"""Signing in with username and password (Django's ModelBackend), and the signed-in user
of every request read together with the area their role covers and the number of their
unread messages: every page asks for both (the data scope, the top bar's badge), which
were queries of their own on each request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db.models import Func, OuterRef, Subquery

from tongxin.accounts.models import User


def unread_messages():
    """The user's unread messages counted in a subquery (read_at IS NULL, by the
    user's index), to read with the user."""
    from tongxin.demands.models import Notification  # demands builds on accounts

    unread = Notification.objects.filter(user=OuterRef("pk"), read_at__isnull=True)
    return Subquery(unread.order_by().values(n=Func("pk", function="COUNT")))


class AccountBackend(ModelBackend):
    def get_user(self, user_id):
        # The count is as the request began; every step that reads messages is a POST
        # answered by a redirect, so a page never shows a count its own request changed.
        users = User.objects.select_related("area").annotate(unread_count=unread_messages())
        try:  # .get(): no ORDER BY to build, as .first() would
            user = users.get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
