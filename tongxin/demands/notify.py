"""Telling people: the in-app inbox always, and outbound channels behind one interface.

The inbox message and a delivery job (django-tasks, database queue) are written in the
same transaction as the work they tell of: committed together or not at all, so a
server killed just after the commit still delivers (the worker, ``manage.py
db_worker``, sends it), and nothing goes out for work that was rolled back.

Channels are named in ``settings.TONGXIN_NOTIFY_CHANNELS`` (dotted paths). Email goes
through Django's mailers to users with an address. SMS and WeChat are extension
points: the classes here only log what they would send; a deployment replaces them
with a class of the same shape that calls its gateway (see docs/operations.md)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string
from django_tasks import task

from tongxin.core import prepared
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


@task()
def deliver_task(notification_id: int) -> int:
    """Send one inbox message out through every channel; returns how many tried."""
    note = Notification.objects.select_related("user", "demand").filter(pk=notification_id).first()
    if note is None:  # deleted meanwhile (its demand or user removed)
        return 0
    sent = 0
    for channel in channels():
        channel.send(note.user, note.text, note.demand)
        sent += 1
    return sent


def notify(user, text: str, demand: Demand | None = None) -> Notification:
    """Put a message in the user's inbox and queue its delivery, both in the caller's
    transaction."""
    note = prepared.insert(Notification(user=user, demand=demand, text=text[:300]))
    deliver_task.enqueue(note.pk)
    return note
