"""What a replica site serves at one path: bytes plus the validators HTTP caches use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time; every date the replica pages print is in it."""

HTML_UTF8 = "text/html; charset=utf-8"
HTML_BARE = "text/html"  # what many government CMSs send: no charset, the page's <meta> says GBK
TEXT_PLAIN = "text/plain; charset=utf-8"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Resource:
    """One response body with its content type and cache validators.

    ``etag`` is a strong, quoted entity tag derived from the body, so equal bodies have equal tags
    and any change of the bytes changes it. ``last_modified`` is an RFC 9110 HTTP-date (GMT).
    ``expected`` holds the answers for article pages (``title``, ``body`` with paragraphs joined by
    ``\\n`` and table cells by ``\\t``, ``published_at`` as an aware datetime, ``source``), used by
    tests and the extraction benchmark; it is None for every other page and takes no part in
    equality. ``status`` and ``headers`` (extra response headers, e.g. ``Set-Cookie``) let a
    pattern site answer as a real one does (a challenge's 521, say); a status other than 200
    is never answered with 304.
    """

    body: bytes
    content_type: str
    etag: str
    last_modified: str
    expected: dict[str, Any] | None = field(default=None, compare=False)
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def last_modified_at(self) -> datetime:
        """``last_modified`` parsed back to an aware datetime."""
        return parsedate_to_datetime(self.last_modified)


def etag_for(body: bytes) -> str:
    """The strong ETag the replica uses for ``body``."""
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


def http_date(when: datetime) -> str:
    """``when`` (aware) as an HTTP-date, e.g. ``Tue, 15 Mar 2022 02:20:00 GMT``."""
    return format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)


def make_resource(
    body: bytes,
    content_type: str,
    modified: datetime,
    expected: dict[str, Any] | None = None,
) -> Resource:
    """A :class:`Resource` whose validators are derived from ``body`` and ``modified``."""
    return Resource(body, content_type, etag_for(body), http_date(modified), expected)


@dataclass(frozen=True)
class Request:
    """What a :data:`Handler` is asked: the decoded path, the query's parameters (``parse_qs``)
    and the request headers with lower-case names."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


Handler = Callable[[Request], Resource | None]
"""A page computed per request (a CMS's data endpoint, a challenge); None answers 404."""

Page = Resource | Handler
"""What a replica site serves at a path: fixed bytes or a handler."""
