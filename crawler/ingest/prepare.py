"""From fetched page to prepared article: extraction, then what the article's text alone
determines (body hash, near-duplicate fingerprint and, optionally, its events).

Pure: page in, :class:`Prepared` out, no database. Crawls run :func:`prepare` in worker
processes (``crawler.ingest.pool``), whose fork server loads this module and what it uses once
(``crawler.ingest.warm``) and nothing of the database layer; ``crawler.ingest.ingestor`` stores the result.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.article import Article, Attachment
from crawler.config.sources import Source
from crawler.dedupe.neardup import Fingerprint, body_keys
from crawler.items import PageItem
from crawler.text.cleaning import clean_fields

if TYPE_CHECKING:
    from crawler.events import Event

log = logging.getLogger(__name__)

# The user's event-rule files (the ``signal_rules`` setting) merged over the packaged rules when
# this process detects events: set by :func:`use_rules`, in the crawl process and in each helper
# process it starts (which are handed the files as an argument).
_rule_files: tuple[str, ...] = ()


def use_rules(files: Sequence[str]) -> None:
    """Detect events in this process with the packaged rules and ``files`` merged over them."""
    global _rule_files
    _rule_files = tuple(files)


def rule_files() -> tuple[str, ...]:
    """The rule files this process detects with (see :func:`use_rules`)."""
    return _rule_files


class EmptyPage(ValueError):
    """The page yielded no article text (an error page, a login wall, a changed template)."""


class NotAnArticle(EmptyPage):
    """Extraction found the page is no article: an index, column or issue page (a list of links
    to articles), or an error or form page (``kind`` is ``provenance["page_kind"]``)."""

    def __init__(self, message: str, kind: str = "index") -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[type[NotAnArticle], tuple[str, str]]:
        # raised in worker processes and re-raised in the crawl process: keep ``kind``
        return NotAnArticle, (str(self), self.kind)


def page_to_article(page: PageItem, source: Source) -> Article:
    """Extract one fetched page (extraction also cleans boilerplate out); attachments' text too.

    Raises :class:`EmptyPage` when nothing worth storing is left, :class:`NotAnArticle` (one) when
    the page is an index or other non-article page, whatever text it holds.
    """
    # imported here: a crawl process with worker processes never extracts itself, and one that
    # finds nothing new should not pay for loading the extractor
    from crawler.extraction import attachment_text, extract

    article = extract(
        page.body, page.url, headers=page.headers, fetched_at=page.fetched_at,
        selectors=source.selectors or None, encoding_hint=source.encoding, region_hint=source.region,
    )
    if page.hints:
        use_hints(article, page.hints)
    for file in page.files:
        try:
            text = attachment_text(file.body, file.name, file.content_type)
        except Exception as exc:  # a broken attachment must not lose its article
            log.warning("attachment %s of %s: %s", file.url, page.url, exc)
            text = ""
        article.attachments.append(Attachment(
            name=file.name, url=file.url, sha256=hashlib.sha256(file.body).hexdigest(), text=text,
            content_type=file.content_type, size=len(file.body),
        ))
    kind = article.provenance.get("page_kind", "article")
    if kind != "article" and not article.attachments:
        raise NotAnArticle(f"{kind} page, not an article: {page.url}", kind)
    if not article.body.strip():
        raise EmptyPage(f"no article text found at {page.url}")
    return article


#: where an article's date came from when it is only a guess: from the URL, or the first or
#: last date its text holds (``crawler.extraction.dating``); a feed entry's date outranks these
_GUESSED_DATES = ("rule:url", "rule:date-in-text", "rule:first-date")


def use_hints(article: Article, hints: dict[str, str]) -> None:
    """What a feed, sitemap or API entry said of the page (:attr:`PageItem.hints`) fills what the
    page does not say: its title when it has none, and its date when it has none or only a
    guess (:data:`_GUESSED_DATES`); the page's own metadata, labels, selectors and the date by
    its title outrank the entry, whose date is often a day without its time. Provenance
    ``entry``."""
    title = hints.get("title", "").strip()
    if title and not article.title.strip():
        article.title = title
        article.provenance["title"] = "entry"
    when = hints.get("published_at", "")
    guessed = article.provenance.get("published_at", "") in _GUESSED_DATES
    if when and (article.published_at is None or guessed):
        article.published_at = datetime.fromisoformat(when)
        article.provenance["published_at"] = "entry"


@dataclass
class Prepared:
    """An article with what its text alone determines: body hash, near-duplicate fingerprint and,
    when detection ran, its events (None: detect after storing, only if the article is new)."""

    article: Article
    digest: str
    near: Fingerprint
    events: list[Event] | None = None


class Sealed:
    """A :class:`Prepared` that travels as its pickle and is unpickled only where it is opened.

    A crawl's pages are prepared in worker processes and stored by the writer process; the crawl
    process between them only counts and routes them. A worker's result comes to it sealed: it
    unpickles a URL and a byte string, and sends that byte string on as it is, instead of
    rebuilding the article, its fingerprint and events and pickling them all again (about 25 µs
    of the crawl process's CPU per page, more with its caches cold, where the crawl process is
    the pipeline's narrowest part).

    :meth:`open` gives the :class:`Prepared` (unpickled once). Once opened, the object is what
    counts: pickling it again pickles the object as it is then, changes included.
    """

    __slots__ = ("_blob", "_prepared", "url")

    def __init__(self, prepared: Prepared) -> None:
        self.url = prepared.article.url
        self._prepared: Prepared | None = prepared
        self._blob: bytes | None = None

    def open(self) -> Prepared:
        """The prepared article."""
        if self._prepared is None:
            assert self._blob is not None
            self._prepared = pickle.loads(self._blob)
            self._blob = None  # the object may change from now on: a later pickle takes it as it is
        return self._prepared

    def __reduce__(self) -> tuple[Any, ...]:
        blob = self._blob
        if blob is None:
            blob = pickle.dumps(self._prepared, protocol=pickle.HIGHEST_PROTOCOL)
        return _sealed, (self.url, blob)


def _sealed(url: str, blob: bytes) -> Sealed:
    """A :class:`Sealed` as unpickled: the URL and the prepared article's pickle, not opened."""
    sealed = Sealed.__new__(Sealed)
    sealed.url, sealed._prepared, sealed._blob = url, None, blob
    return sealed


def events_of(article: Article) -> list[Event]:
    """The events ``article`` states, by the configured rules."""
    # imported on first use: the rules and the place-name index are a quarter of a second that a
    # crawl finding nothing new (or storing with workers that detect) does not need to pay
    from crawler.events import detect_events
    from crawler.events.rules import load_rules

    published = article.published_at.date() if article.published_at else None
    return detect_events(article.body, title=article.title, region_hint=article.region,
                         published=published, rules=load_rules([Path(f) for f in _rule_files]))


def prepare_article(article: Article, *, detect: bool = True) -> Prepared:
    """Hash, fingerprint and (with ``detect``) the events of an extracted article, after its text
    fields lose their control characters (every stored article passes here)."""
    clean_fields(article)
    events = events_of(article) if detect else None
    digest, near = body_keys(article.body)
    return Prepared(article, digest, near, events)


_WARM_PAGE = "<html><head><title>南昌市</title></head><body><div><p>南昌市。</p></div></body></html>".encode()


def warm_up() -> None:
    """Load what the first :func:`prepare` would (the extractor, normalisation tables, detection
    rules and the place-name index), so that the workers' fork server does it once, before the
    crawl needs it, instead of every worker at its first page."""
    from crawler.extraction import extract

    # the page's article names a place, so detection loads the place-name index too
    prepare_article(extract(_WARM_PAGE, "about:blank"), detect=True)


def prepare(page: PageItem, source: Source, *, detect: bool = True) -> Prepared:
    """:func:`page_to_article` then :func:`prepare_article`: everything but the database. Pure
    (no I/O), so crawls run it in worker processes. Raises :class:`EmptyPage` like extraction."""
    return prepare_article(page_to_article(page, source), detect=detect)
