"""Source kinds: what a ``sources:`` entry's ``kind`` means.

Each kind is one subclass of :class:`SourceKind`, which says what a source of that kind must and
may give beyond the keys every source has, whether its stored articles are re-checked for
revisions, and which spider crawls it. Adding a kind (a feed, a sitemap) is one new subclass
here and its spider; the config's validation (``crawler.config.sources``), the crawl runner
(``spiders.runner``) and the daemon's plan read everything else from the class.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["KINDS", "RECHECK_KEYS", "ApiKind", "EpaperKind", "FeedKind", "ListingKind", "SitemapKind", "SourceKind",
           "kind_keys", "kind_of", "rechecked_kinds"]

#: name → kind, in declaration order (the first is the default kind).
KINDS: dict[str, type[SourceKind]] = {}
#: the keys of a re-check schedule, taken by every kind whose articles are re-checked
RECHECK_KEYS = ("recheck", "recheck_days")


class SourceKind:
    """One kind of source. Subclasses set the class attributes; defining one registers it."""

    #: the ``kind:`` value in the config file
    name: ClassVar[str]
    #: the README's one-line description
    help: ClassVar[str]
    #: the Scrapy spider that crawls it, as ``module.Class`` (loaded by the crawl runner)
    spider: ClassVar[str]
    #: keys a source of this kind must give, besides the keys every source must
    required: ClassVar[tuple[str, ...]] = ()
    #: keys a source of this kind may give, besides the keys every source may (and the re-check
    #: keys, which every re-checked kind takes)
    optional: ClassVar[tuple[str, ...]] = ()
    #: whether its stored articles are re-fetched for revisions (``recheck``, ``radar crawl --recheck``)
    rechecked: ClassVar[bool] = False
    #: why it is not re-checked, for the error that refuses a re-check
    not_rechecked: ClassVar[str] = ""

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if cls.name in KINDS:
            raise TypeError(f"source kind {cls.name!r} is defined twice")
        KINDS[cls.name] = cls

    @classmethod
    def own_keys(cls) -> tuple[str, ...]:
        """The keys only this kind takes (required, optional and, when re-checked, the re-check keys)."""
        return cls.required + cls.optional + (RECHECK_KEYS if cls.rechecked else ())

    @classmethod
    def refuses_recheck(cls) -> str:
        """The reason a re-check of this kind is refused ("" when it is re-checked)."""
        if cls.rechecked:
            return ""
        return f"{cls.not_rechecked}; only {', '.join(k.name for k in rechecked_kinds())} sources are re-checked"


class ListingKind(SourceKind):
    """Listing pages (栏目) that link articles, followed page by page."""

    name = "listing"
    help = "listing pages that link articles"
    spider = "spiders.listing.ListingSpider"
    optional = ("next_page",)
    rechecked = True


class EpaperKind(SourceKind):
    """A newspaper's e-paper: issue index → pages (版面) → stories."""

    name = "epaper"
    help = "an e-paper: issue → 版面 pages → stories"
    spider = "spiders.epaper.EpaperSpider"
    required = ("pages",)
    not_rechecked = "e-paper pages are printed once"


class FeedKind(SourceKind):
    """An RSS or Atom feed whose entries link articles."""

    name = "feed"
    help = "an RSS or Atom feed whose entries link articles"
    spider = "spiders.feed.FeedSpider"
    optional = ("max_age_days",)
    rechecked = True


class SitemapKind(SourceKind):
    """A sitemap index, news sitemap or plain sitemap listing article URLs."""

    name = "sitemap"
    help = "a sitemap (index, news or plain) listing article URLs"
    spider = "spiders.sitemap.SitemapSpider"
    optional = ("max_age_days",)
    rechecked = True


class ApiKind(SourceKind):
    """A JSON listing endpoint: items with their article URLs, paged by a query parameter."""

    name = "api"
    help = "a JSON listing endpoint whose items link articles"
    spider = "spiders.api.ApiSpider"
    optional = ("items", "fields", "page_param", "max_age_days")
    rechecked = True


def rechecked_kinds() -> list[type[SourceKind]]:
    """The kinds whose sources are re-checked."""
    return [k for k in KINDS.values() if k.rechecked]


def kind_of(name: str) -> type[SourceKind]:
    """The kind called ``name``; KeyError when there is none."""
    return KINDS[name]


def kind_keys() -> dict[str, list[str]]:
    """Each key that only some kinds take → the names of those kinds."""
    out: dict[str, list[str]] = {}
    for kind in KINDS.values():
        for key in kind.own_keys():
            out.setdefault(key, []).append(kind.name)
    return out
