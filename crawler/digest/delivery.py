"""Delivering digests through the outbox: write first, send, mark sent.

For each subscription and recipient whose period is due, the events not yet carried to that
address (and matching the subscription) are rendered and written to ``digests`` with their
claims in one transaction; only then is the message handed to SMTP, and only after SMTP
accepted it is the row marked sent. So:

- a crash or an SMTP failure before "sent" leaves the row pending; the next run (or the
  restarted daemon) sends that same row, with the same Message-ID, once its backoff is over;
- a digest is never written twice: the idempotency key ``subscription|recipient|period`` and
  the ``(recipient, event)`` claim are unique;
- SMTP accepted the message but the database failed to mark the row sent (a full disk, a
  server gone away): the process remembers the row as sent, marks it before it sends anything
  else once the database works again, and never sends it a second time;
- the one window left: SMTP accepted the message and the process died before the row was
  marked sent. The retry then sends it again: delivery is at-least-once, with a stable
  Message-ID so mail servers and clients can spot the duplicate. No mail system can close that
  window without the receiving side's help.

Only one process sends at a time (the ``digest`` lock of ``storage.locks``), so the daemon and
a manual ``radar digest`` never send the same pending row together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Literal

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crawler.config.settings import Settings
from crawler.config.sources import Config
from crawler.config.subscriptions import FREQUENCIES, Subscription, effective_subscriptions, idempotency_key, period_of
from crawler.digest import channels
from crawler.digest.labels import say
from crawler.digest.mailer import send_message
from crawler.digest.render import build_email, render
from crawler.errors import DigestError, brief
from crawler.health.rules import Alert, alerts_of
from storage import outbox, runs
from storage.db import transaction
from storage.locks import DatabaseLock
from storage.models import DigestRow

log = logging.getLogger(__name__)


#: what became of one digest, or why there was none (see :class:`DeliveryResult`)
DeliveryStatus = Literal["sent", "failed", "deferred", "dry-run", "nothing", "exists", "not-due"]
#: the statuses of a digest that was written and handed to SMTP or held back (counted by the daemon)
MAILED: tuple[DeliveryStatus, ...] = ("sent", "failed", "deferred")


@dataclass
class DeliveryResult:
    """What happened to one digest (or why there was none) for one recipient of one subscription.

    ``status``: ``sent``; ``failed`` (pending, retried after backoff); ``deferred`` (written,
    not tried: SMTP failed for an earlier digest of the same run); ``dry-run`` (what would be
    sent); ``nothing`` (no new events, no alerts); ``exists`` (this period's digest was already
    written); ``not-due`` (a weekly digest before its day).
    """

    status: DeliveryStatus
    subscription: str
    recipient: str
    key: str = ""
    digest_id: int | None = None
    event_count: int = 0
    subject: str = ""
    message: EmailMessage | None = None
    error: str = ""
    note: str = ""
    body: str = ""  # a channel's markdown (mail: see ``message``)


def _result(status: DeliveryStatus, row: DigestRow, message: EmailMessage | None = None,
            **extra: str) -> DeliveryResult:
    body = row.text_body if channels.is_channel(row.recipients) else ""
    return DeliveryResult(status, row.subscription, row.recipients, row.idempotency_key, row.id, row.event_count,
                          row.subject, message, body=body, **extra)


def _message(row: DigestRow, settings: Settings) -> EmailMessage | None:
    """The mail of a digest row; None for a channel's."""
    return None if channels.is_channel(row.recipients) else build_email(row, settings)


#: Digests SMTP accepted whose "sent" mark the database refused (digest id → when sent), kept
#: for the life of the process: marked first thing at the next delivery, and never sent again.
#: Read and changed only under the ``digest`` lock.
_SENT_UNMARKED: dict[int, datetime] = {}


def _mark_remembered(factory: sessionmaker[Session]) -> None:
    """Mark the digests sent whose mark the database refused earlier (raises while it still does)."""
    for digest_id, sent_at in list(_SENT_UNMARKED.items()):
        with transaction(factory) as session:
            outbox.mark_sent(session, digest_id, sent_at)
        del _SENT_UNMARKED[digest_id]
        log.info("digest %d marked sent (it was sent at %s, when the database refused the mark)", digest_id,
                 f"{sent_at:%Y-%m-%d %H:%M:%S}")


class _Sender:
    """Sends written digests and records the outcome; after one SMTP failure (or one failure of a
    channel) it stops trying that server (that channel) for the rest of the run (the outbox
    retries later) instead of timing out once per digest."""

    def __init__(self, factory: sessionmaker[Session], config: Config, clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.settings = config.settings
        self.clock = clock
        self.smtp_error = ""
        self.channel_errors: dict[str, str] = {}

    def _deliver(self, row: DigestRow, message: EmailMessage | None) -> None:
        if message is None:
            channels.send(row.recipients, row.subject, row.text_body, row.idempotency_key)
        else:
            send_message(message, self.settings)

    def send(self, row: DigestRow) -> DeliveryResult:
        message = _message(row, self.settings)
        earlier = self.channel_errors.get(row.recipients, "") if message is None else self.smtp_error
        if earlier:
            return _result("deferred", row, message, error=f"not tried this run: {earlier}")
        try:
            self._deliver(row, message)
        except DigestError as exc:
            if message is None:
                self.channel_errors[row.recipients] = str(exc)
            else:
                self.smtp_error = str(exc)
            with transaction(self.factory) as session:
                outbox.mark_failed(session, row.id, str(exc), self.clock(), base=self.settings.digest_retry_base,
                                   cap=self.settings.digest_retry_max)
            return _result("failed", row, message, error=str(exc))
        # SMTP (the channel) has the message. Dying before this commit means one resend (see the module doc).
        sent_at = self.clock()
        try:
            with transaction(self.factory) as session:
                outbox.mark_sent(session, row.id, sent_at)
        except OperationalError as exc:  # the database is failing: remember, never send it again
            _SENT_UNMARKED[row.id] = sent_at
            log.error("digest %d was sent but the database refused to mark it (%s); it is marked once the "
                      "database works again, and not sent again", row.id, brief(exc))
            return _result("sent", row, message, note="sent; the mark waits for the database")
        return _result("sent", row, message)


def deliver(
    factory: sessionmaker[Session],
    config: Config,
    *,
    now: datetime | None = None,
    frequencies: Collection[str] = FREQUENCIES,
    retry: str = "due",
    dry_run: bool = False,
    lock: DatabaseLock | None = None,
    lock_timeout: float = 120.0,
    require_subscriptions: bool = True,
) -> list[DeliveryResult]:
    """Send what is due: pending digests first, then new digests of the ``frequencies`` subscriptions.

    ``retry``: ``due`` retries pending digests whose backoff is over, ``all`` every pending one
    (a person asked), ``none`` none. ``dry_run`` writes and sends nothing and returns the
    messages that would go out, to whom. ``now`` fixes the clock (tests). ``lock`` is the
    ``digest`` lock to hold while sending (one is made when not given).
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    settings = config.settings
    every = effective_subscriptions(settings, config.subscriptions)
    if require_subscriptions and not every:
        raise DigestError("no recipients: set RADAR_MAIL_TO (comma-separated addresses) or add `subscriptions:` "
                          "to the config file")
    if dry_run:
        return _plan(factory, config, every, clock, frequencies, retry, None)
    own_lock = lock is None
    guard = lock or DatabaseLock(settings.database_url, "digest")
    if not guard.acquire(timeout=lock_timeout):
        raise DigestError(f"digests are being sent by another job or process for over {lock_timeout:.0f} s "
                          f"({guard.describe()}); try again later")
    try:
        _mark_remembered(factory)  # raises, sending nothing, while the database still refuses
        return _plan(factory, config, every, clock, frequencies, retry, _Sender(factory, config, clock))
    finally:
        if own_lock:
            guard.close()
        else:
            guard.release()


def source_filter(config: Config, sub: Subscription) -> tuple[list[str] | None, list[str]]:
    """The sources a subscription's ``sources:`` allows (None: any), and the sources that carry one
    of its ``tags:`` today (for events stored before tags were: ``storage.outbox``)."""
    sources = config.select()
    wanted = [s.name for s in sources if s.name in sub.sources] if sub.sources else None
    return wanted, [s.name for s in sources if set(s.tags) & set(sub.tags)]


def _plan(factory: sessionmaker[Session], config: Config, subscriptions: list[Subscription],
          clock: Callable[[], datetime],
          frequencies: Collection[str], retry: str, sender: _Sender | None) -> list[DeliveryResult]:
    settings = config.settings
    now = clock()
    results: list[DeliveryResult] = []
    if retry != "none":
        with factory() as session:
            pending = outbox.pending_digests(session, due_at=None if retry == "all" else now)
        for row in pending:
            if sender is None:
                results.append(_result("dry-run", row, _message(row, settings),
                                       note=f"written {row.created_at:%Y-%m-%d %H:%M}, not sent yet "
                                            f"({row.attempts} attempt(s)): would be retried"))
            else:
                results.append(sender.send(row))
    local = now.astimezone(settings.tz)
    sources = config.select()
    alerts: list[Alert] | None = None
    planned: dict[str, list[int]] = {}  # dry run: events earlier previews would claim, per address
    for sub in subscriptions:
        if sub.frequency not in frequencies:
            continue
        period = period_of(sub.frequency, local, settings.digest_weekday)
        wanted, tagged = source_filter(config, sub)
        for recipient in sub.targets:
            if period is None:
                results.append(DeliveryResult("not-due", sub.name, recipient,
                                              note=f"weekly digests are due from {settings.digest_weekday}"))
                continue
            key = idempotency_key(sub.name, recipient, period) if sub.frequency != "immediate" else ""
            with_health = sub.health and sub.frequency != "immediate"
            try:
                with transaction(factory) as session:
                    views = outbox.unclaimed_events(
                        session, recipient, types=sub.types, regions=sub.regions, keywords=sub.keywords,
                        exclude=planned.get(recipient, ()), sources=wanted, stages=sub.stages,
                        min_amount_cny=sub.min_amount_cny, news_only=sub.retrospective == "exclude",
                        tags=sub.tags, tagged_sources=tagged)
                    if key and (done := outbox.digest_by_key(session, key)) is not None:
                        waiting = f"{len(views)} new event(s) wait for the next one" if views else "no new events"
                        results.append(DeliveryResult("exists", sub.name, recipient, key, done.id, note=(
                            f"the {period} digest was already written ({done.status}); {waiting}")))
                        continue
                    if with_health and alerts is None:
                        alerts = alerts_of(runs.histories(session, sources, runs=settings.health_history),
                                           settings, now)
                    health = (alerts or []) if with_health else []
                    if not views and not health:
                        results.append(DeliveryResult("nothing", sub.name, recipient,
                                                      note="no new events for this subscription"))
                        continue
                    # immediate digests have no calendar period: the first event they carry names them
                    this_period = f"immediate:{views[0].event.id}" if sub.frequency == "immediate" else period
                    key = key or idempotency_key(sub.name, recipient, this_period)
                    heading = "" if sub.name == "mail_to" else say(sub.language, "subscription", name=sub.name,
                                                                   what=sub.describe(sub.language))
                    channel = channels.is_channel(recipient)
                    rendered = render(views, settings=settings, now=now, key=key, alerts=health,
                                      sources=len(sources) if with_health else 0, heading=heading,
                                      language=sub.language, retrospective=sub.retrospective,
                                      channel_limit=channels.body_limit(recipient, "x" * 250, sub.notify_max_bytes)
                                      if channel else 0)
                    if sender is None:
                        preview = DigestRow(  # never added to the session: nothing is written
                            idempotency_key=key, recipients=recipient, subject=rendered.subject,
                            text_body=rendered.markdown if channel else rendered.text, html_body=rendered.html,
                            created_at=now,
                            subscription=sub.name, period=this_period, event_count=len(views))
                        planned.setdefault(recipient, []).extend(rendered.event_ids)
                        results.append(_result("dry-run", preview, _message(preview, settings)))
                        continue
                    row = outbox.write_digest(session, key=key, subscription=sub.name, period=this_period,
                                              recipient=recipient, subject=rendered.subject,
                                              text_body=rendered.markdown if channel else rendered.text,
                                              html_body=rendered.html,
                                              event_ids=rendered.event_ids, now=now)
            except IntegrityError:
                # another writer got there first (same key or same claims): its digest stands
                results.append(DeliveryResult("exists", sub.name, recipient, key,
                                              note="written meanwhile by another process"))
                continue
            results.append(sender.send(row))
    return results
