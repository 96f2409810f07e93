"""Telling people: the in-app inbox always, and outbound channels behind one interface.

Channels are named in ``settings.TONGXIN_NOTIFY_CHANNELS`` (dotted paths). Email goes
through Django's mailers to users with an address. SMS and WeChat are extension
points: the classes here only log what they would send; a deployment replaces them
with a class of the same shape that calls its gateway (see docs/operations.md)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.module_loading import import_string

from tongxin.demands.models import Demand, Notification

logger = logging.getLogger("tongxin.notify")

DEFAULT_CHANNELS = [
    "tongxin.demands.notify.EmailChannel",
    "tongxin.demands.notify.LoggingSmsChannel",
    "tongxin.demands.notify.LoggingWeChatChannel",
]


class Channel:
    """One way out. ``send`` must not raise for a delivery problem: it logs it."""

    def send(self, user, text: str, demand: Demand | None) -> None:  # pragma: no cover
        raise NotImplementedError


class EmailChannel(Channel):
    def send(self, user, text: str, demand: Demand | None) -> None:
        if not user.email:
            return
        try:
            send_mail(f"[同心] {text[:60]}", text, None, [user.email], fail_silently=False)
        except Exception:  # a mail server being down must not undo the work
            logger.exception("email to %s failed", user.pk)


class LoggingSmsChannel(Channel):
    def send(self, user, text: str, demand: Demand | None) -> None:
        if user.phone:
            logger.info("SMS to user %s: %s", user.pk, text)


class LoggingWeChatChannel(Channel):
    def send(self, user, text: str, demand: Demand | None) -> None:
        logger.info("WeChat to user %s: %s", user.pk, text)


def channels() -> list[Channel]:
    return [
        import_string(p)() for p in getattr(settings, "TONGXIN_NOTIFY_CHANNELS", DEFAULT_CHANNELS)
    ]


def notify(user, text: str, demand: Demand | None = None) -> Notification:
    """Put a message in the user's inbox now; send it outward once the transaction
    commits (nothing goes out for work that was rolled back)."""
    note = Notification.objects.create(user=user, demand=demand, text=text[:300])
    transaction.on_commit(lambda: [c.send(user, text, demand) for c in channels()])
    return note
