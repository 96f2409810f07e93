"""Telling people: the in-app inbox always, and outbound channels behind one interface.

The inbox message and a delivery job (django-tasks, database queue) are written in the
same transaction as the work they tell of: committed together or not at all, so a
server killed just after the commit still delivers (the worker, ``manage.py
db_worker``, sends it), and nothing goes out for work that was rolled back. A new
demand commits one job instead, :func:`announce_task`, which finds its dispatchers and
tells them in the worker: an intake (a burst from a hotline) does no more than write
the demand, its first event and that job.

Channels are named in ``settings.TONGXIN_NOTIFY_CHANNELS`` (dotted paths). Email goes
through Django's mailers to users with an address. SMS and WeChat are extension
points: the classes here only log what they would send; a deployment replaces them
with a class of the same shape that calls its gateway (see docs/operations.md)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django_tasks import task

from tongxin.accounts.models import User, UserRole
from tongxin.areas.models import Area, chains_of
from tongxin.core import prepared
from tongxin.demands.models import Demand, Notification, State

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


@task()
def announce_task(demand: str | int) -> int:
    """Tell the dispatchers of a new demand that it waits for them: an inbox message each
    (:func:`notify`), in one transaction; returns how many were told. Queued by the
    intake in the transaction that writes the demand, with its tracking code (known
    before the row is written; a job queued before 2026-12 names the demand's id). A
    demand dispatched, merged or withdrawn before the job runs waits for no one:
    nobody is told."""
    found = Demand.objects.select_related("community")
    if isinstance(demand, int):
        found = found.filter(pk=demand)
    else:
        found = found.filter(tracking_code=demand)
    demand = found.first()
    if demand is None or demand.state != State.SUBMITTED:
        return 0
    told = dispatchers_of(demand.community)
    with transaction.atomic():
        for user in told:
            notify(user, _("新诉求待派单：%(title)s") % {"title": demand.title}, demand)
    return len(told)


def dispatchers_of(community: Area) -> list[User]:
    """Who is told of a new demand: the community's responsible person now (依次递补),
    else its community workers.

    The chain is walked as :meth:`Area.responsible_now` walks it, but of the chain and
    its users only what :meth:`Responsibility.is_present` needs is read (the absences,
    whether the user is active): a message needs nothing of its reader but who they
    are. (A user from the chain has no other field loaded.) Both queries are built once
    per process (core.prepared) and then only run."""
    today = timezone.localdate()
    paths = community.path_prefixes()
    chain = _CHAINS.list(len(paths), _chain, *paths)
    first = next((r.user for r in chain if r.is_present(today)), None)
    if first is not None:
        return [first]
    return _WORKERS.list("workers", _community_workers, community.pk)


def _chain(*paths: str):
    return chains_of(*paths).only("absent_from", "absent_until", "user__is_active")


def _community_workers(community_id: int):
    return User.objects.filter(
        role=UserRole.COMMUNITY_WORKER, area_id=community_id, is_active=True
    ).only("id")


# The chain's query by the depth of the node (one path per level above it).
_CHAINS = prepared.Prepared(size=8)
_WORKERS = prepared.Prepared()


def notify(user, text: str, demand: Demand | None = None) -> Notification:
    """Put a message in the user's inbox and queue its delivery, both in the caller's
    transaction."""
    note = prepared.insert(Notification(user=user, demand=demand, text=text[:300]))
    deliver_task.enqueue(note.pk)
    return note
