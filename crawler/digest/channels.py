"""Chat and webhook channels through Apprise (DingTalk, WeCom, Feishu, Telegram, Slack, JSON …).

A channel is an outbox recipient like a mail address: its URL, as the config file writes it
(``dingtalk://${DINGTALK_TOKEN}/``), is the recipient, so the outbox stores no secret; the
placeholders are filled from the environment only when the message is sent. The body is
markdown, rendered at write time to fit the service's size limit.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from urllib.parse import quote

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # Apprise imports imghdr, deprecated since 3.11
    import apprise

    apprise.Apprise.instantiate("json://localhost/")  # Apprise loads its plugins (and imghdr) on first use

from crawler.config.subscriptions import PLAIN_SCHEMES, expand, placeholders
from crawler.errors import DigestError

#: Used when Apprise does not say how long a message may be.
DEFAULT_LIMIT = 4000
_URL = re.compile(r"https?://\S+")  # a service's URL may embed its token: never in an error
_LOG_PREFIX = re.compile(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - [A-Z]+ - ")
_DUMMY = "0123456789abcdef0123456789abcdef"  # a token-shaped stand-in: limits do not depend on secrets


def is_channel(recipient: str) -> bool:
    """Whether an outbox recipient is an Apprise URL (else it is a mail address)."""
    return "://" in recipient


def scheme(url: str) -> str:
    """``dingtalk`` for ``dingtalk://…``."""
    return url.partition("://")[0]


def body_limit(url: str, subject: str, configured: int = 0) -> int:
    """The bytes the markdown body may take on this channel: the service's limit (Apprise's
    ``body_maxlen``), less the subject where the service folds it into the body, at most
    ``configured`` when that is set."""
    plugin = apprise.Apprise.instantiate(expand(url, lambda _name: _DUMMY))
    limit = int(getattr(plugin, "body_maxlen", 0) or DEFAULT_LIMIT)
    if plugin is not None and not getattr(plugin, "title_maxlen", 0):
        limit -= len(subject.encode()) + 2
    if configured:
        limit = min(limit, configured)
    return max(200, limit)


def _with_identity(url: str, key: str) -> str:
    """For a webhook (json/form/xml), the digest's key as an ``X-Policy-Radar-Digest`` header:
    a resend carries the same one, so the receiver can drop a duplicate."""
    if scheme(url) not in PLAIN_SCHEMES:
        return url
    return url + ("&" if "?" in url else "?") + "+X-Policy-Radar-Digest=" + quote(key, safe="")


def send(url: str, subject: str, body: str, key: str) -> None:
    """Send ``body`` (markdown) titled ``subject`` to the channel ``url``; any failure raises
    :class:`DigestError` (the outbox keeps the message for a retry). The error never contains
    a value taken from the environment."""
    missing = [n for n in placeholders(url) if not os.environ.get(n)]
    if missing:
        raise DigestError(f"{scheme(url)}:// needs {', '.join(missing)} in the environment")
    secrets = [os.environ[n] for n in placeholders(url)]
    target = apprise.Apprise()
    if not target.add(_with_identity(expand(url, os.environ.__getitem__), key)):
        raise DigestError(f"Apprise does not accept the {scheme(url)}:// URL")
    with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        ok = target.notify(body=body, title=subject, body_format=apprise.NotifyFormat.MARKDOWN)
        text = str(logs.getvalue())
    if not ok:
        text = _LOG_PREFIX.sub("", text)  # Apprise's "2025-07-02 09:00:00,123 - WARNING - "
        reason = " ".join(text.split())[-300:] or "the service refused the message"
        for secret in secrets:
            reason = reason.replace(secret, "***")
        reason = _URL.sub("<url>", reason)
        raise DigestError(f"{scheme(url)}:// failed: {reason}")
