"""Refuses the requests a source may not make: every request of a crawl passes here (start
pages, links, attachments, robots.txt, each redirect), before it is queued for download.

A source fetches only over ``http`` and ``https``, and only its own sites (:class:`FetchPolicy`).
A host name is resolved first, and a request whose host resolves to a private, loopback,
link-local, multicast, reserved or unspecified address is refused unless it goes to the exact
host and port of one of the source's start URLs, or to an IP address listed in its
``allowed_domains``. A refused request is counted (``radar/refused/<reason>``), logged once per
reason and host, and dropped: the crawl goes on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.stats import DownloaderStats as ScrapyDownloaderStats
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

if TYPE_CHECKING:
    from crawler.config.sources import Source

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
_MAX_VERDICTS = 10_000
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(IgnoreRequest):
    """A request its source may not make; ``reason`` says why (``scheme``, ``offsite``,
    ``private_address``)."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(f"refused ({reason}): {url}")
        self.reason = reason


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def non_public(address: IPAddress) -> bool:
    """True for an address no public web site is on: private, loopback, link-local, multicast,
    reserved, unspecified or shared, an IPv4 one mapped into IPv6 included."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


@cache
def _suffixes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The public-suffix list's ICANN rules: plain ones, wildcards (``*.ck`` as ``ck``) and
    exceptions (``!www.ck`` as ``www.ck``), IDNA-encoded.

    Read from the copy bundled with tldextract (a Scrapy dependency), not through tldextract:
    importing it loads ``requests``, which cost a crawl that finds nothing new a tenth of its
    start-up, and a crawl never fetches the list."""
    spec = importlib.util.find_spec("tldextract")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / ".tld_set_snapshot"
    plain: set[str] = set()
    wild: set[str] = set()
    exceptions: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        rule = line.strip()
        if rule.startswith("// ===BEGIN PRIVATE DOMAINS==="):
            break
        if not rule or rule.startswith("//"):
            continue
        if not rule.isascii():
            prefix = "*." if rule.startswith("*.") else "!" if rule.startswith("!") else ""
            try:
                rule = prefix + rule[len(prefix):].encode("idna").decode("ascii")
            except UnicodeError:
                continue
        if rule.startswith("*."):
            wild.add(rule[2:])
        elif rule.startswith("!"):
            exceptions.add(rule[1:])
        else:
            plain.add(rule)
    return frozenset(plain), frozenset(wild), frozenset(exceptions)


def registered_domain(host: str) -> str:
    """``ganzhou.gov.cn`` for ``www.ganzhou.gov.cn`` (by the public-suffix list); a host
    without a public suffix (``localhost``, an intranet name) is its own domain."""
    plain, wild, exceptions = _suffixes()
    labels = host.split(".")
    for i in range(len(labels)):  # the longest suffix that is public
        candidate = ".".join(labels[i:])
        if candidate in exceptions:
            return candidate
        if candidate in plain or ".".join(labels[i + 1:]) in wild:
            return ".".join(labels[i - 1:]) if i > 0 else host
    return host


def _host_port(netloc_or_url: str) -> tuple[str, int | None, str]:
    """Host (lower case, IDNA), port (None: not given) and scheme of a URL or ``host[:port]``."""
    parts = urlsplit(netloc_or_url if "//" in netloc_or_url else "//" + netloc_or_url)
    host = (parts.hostname or "").rstrip(".")
    with contextlib.suppress(UnicodeError):  # not a name IDNA takes: it matches no rule then
        host = host.encode("idna").decode("ascii")
    try:
        port = parts.port
    except ValueError:  # out of range: no site has it
        port = -1
    return host, port, parts.scheme.lower()


def _endpoint(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of ``url`` (the scheme's port when none is given)."""
    host, port, scheme = _host_port(url)
    return scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme, -1)


@dataclass(frozen=True)
class FetchPolicy:
    """What one source may fetch.

    - ``domains``: names whose host or any subdomain may be fetched, on any port: the start
      URLs' registered domains and the names in ``allowed_domains``;
    - ``addresses``: IP addresses that may be fetched on any port (IP entries of
      ``allowed_domains`` without a port);
    - ``endpoints``: exact ``(host, port)`` pairs: IP-literal start URLs and entries of
      ``allowed_domains`` that name a port;
    - ``inner``: the ``(host, port)`` pairs and IP addresses where a non-public address is
      accepted: the start URLs' own, and the IP entries of ``allowed_domains``.
    """

    domains: frozenset[str]
    addresses: frozenset[str]
    endpoints: frozenset[tuple[str, int]]
    inner: frozenset[tuple[str, int] | str]

    @classmethod
    def of(cls, start_urls: Iterable[str], allowed_domains: Iterable[str] = ()) -> FetchPolicy:
        """The policy of a source with these start URLs and ``allowed_domains`` entries."""
        domains: set[str] = set()
        addresses: set[str] = set()
        endpoints: set[tuple[str, int]] = set()
        inner: set[tuple[str, int] | str] = set()
        for url in start_urls:
            _scheme, host, port = _endpoint(url)
            inner.add((host, port))
            if _ip(host) is not None:
                endpoints.add((host, port))
            elif host:
                domains.add(registered_domain(host))
        for entry in allowed_domains:
            host, given, _scheme = _host_port(entry)
            if not host:
                continue
            address = _ip(host)
            if given is not None:
                endpoints.add((host, given))
                if address is not None:
                    inner.add((host, given))
            elif address is not None:
                addresses.add(str(address))
                inner.add(str(address))
            else:
                domains.add(host)
        return cls(frozenset(domains), frozenset(addresses), frozenset(endpoints), frozenset(inner))

    @classmethod
    def of_source(cls, source: Source) -> FetchPolicy:
        """The policy of ``source``."""
        return cls.of(source.start_urls, source.allowed_domains)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, judged on the URL alone (``scheme`` or ``offsite``),
        or None."""
        scheme, host, port = _endpoint(url)
        if scheme not in SCHEMES or not host or port < 0:
            return "scheme"
        if (host, port) in self.endpoints:
            return None
        address = _ip(host)
        if address is not None:
            return None if str(address) in self.addresses else "offsite"
        if any(host == d or host.endswith("." + d) for d in self.domains):
            return None
        return "offsite"

    def inner_allowed(self, url: str, address: IPAddress) -> bool:
        """Whether ``url`` may be fetched although its host is on the non-public ``address``."""
        _scheme, host, port = _endpoint(url)
        return (host, port) in self.inner or str(address) in self.inner


async def resolve(host: str) -> list[IPAddress]:
    """The addresses ``host`` resolves to: the one Scrapy will connect to (through the reactor's
    resolver, which caches it for the connection) and every one ``getaddrinfo`` gives; empty
    when it does not resolve (the download then fails as it would have)."""
    from twisted.internet import reactor

    found: list[IPAddress] = []
    try:
        first = await maybe_deferred_to_future(cast(Any, reactor).resolve(host))
        found.append(ipaddress.ip_address(first))
    except Exception:  # an unresolvable host fails at download, and is counted there
        pass
    try:
        infos = await maybe_deferred_to_future(deferToThread(socket.getaddrinfo, host, None))
    except OSError:
        infos = []
    for info in infos:
        address = _ip(str(info[4][0]).split("%", 1)[0])
        if address is not None:
            found.append(address)
    return found


class FetchGuard:
    """Downloader middleware: refuses (:class:`Refused`) what the crawl's source may not fetch.

    It runs first of the downloader middlewares, so a refused request never reaches the
    robots.txt check (which would fetch from the refused host) or the download."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._policy: FetchPolicy | None = None
        # the verdict depends on the scheme and host:port alone, and is reached once per crawl:
        # the reactor's resolver keeps the answer the connection will use, so a name cannot
        # resolve to another address between this check and the connect
        self._verdicts: dict[tuple[str, str], str | None] = {}
        self._logged: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FetchGuard:
        return cls(crawler)

    @property
    def policy(self) -> FetchPolicy | None:
        """The policy of the crawl's source (None: the spider has no source, so no policy but
        the schemes)."""
        if self._policy is None:
            source = getattr(self.crawler.spider, "source", None)
            if source is not None:
                self._policy = FetchPolicy.of_source(source)
        return self._policy

    async def process_request(self, request: Request) -> None:
        """Raise :class:`Refused` for a request the source may not make."""
        parts = urlparse_cached(request)
        reason = await self._verdict(parts.scheme, parts.netloc, request.url)
        if reason is not None:
            self._refuse(reason, request.url)

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, counted and logged as a refused request is, or None:
        the check of a request the browser makes for a rendered page (``spiders.browser``)."""
        parts = urlsplit(url)
        reason = await self._verdict(parts.scheme, parts.netloc, url)
        if reason is not None:
            with contextlib.suppress(Refused):
                self._refuse(reason, url)
        return reason

    async def _verdict(self, scheme: str, netloc: str, url: str) -> str | None:
        key = (scheme, netloc)
        if key in self._verdicts:
            return self._verdicts[key]
        reason = await self.judge(url)
        if len(self._verdicts) >= _MAX_VERDICTS:  # a page of random host names
            self._verdicts.clear()
        self._verdicts[key] = reason
        return reason

    async def judge(self, url: str) -> str | None:
        """Why ``url`` may not be fetched (``scheme``, ``offsite``, ``private_address``), or None."""
        policy = self.policy
        if policy is None:
            return None if _endpoint(url)[0] in SCHEMES else "scheme"
        reason = policy.refusal(url)
        if reason is not None:
            return reason
        host = _endpoint(url)[1]
        literal = _ip(host)
        addresses = [literal] if literal is not None else await resolve(host)
        if any(non_public(a) and not policy.inner_allowed(url, a) for a in addresses):
            return "private_address"
        return None

    def _refuse(self, reason: str, url: str) -> None:
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("radar/refused")
            stats.inc_value(f"radar/refused/{reason}")
        host = _endpoint(url)[1] or url[:80]
        if (reason, host) not in self._logged:
            self._logged.add((reason, host))
            log.warning("refused %s (%s); further refusals of this host for this reason are only counted",
                        url, reason.replace("_", " "))
        raise Refused(reason, url)


_SPIDER_ARGUMENT_OPTIONAL = (
    inspect.signature(ScrapyDownloaderStats.process_exception).parameters["spider"].default
    is not inspect.Parameter.empty
)


class DownloaderStats(ScrapyDownloaderStats):
    """Scrapy's downloader stats, less refused requests: they were never sent, so they are no
    download error (``crawl_runs.errors_by_kind``, the ``error_spike`` rule); the guard counts
    them under ``radar/refused``."""

    def process_exception(self, request: Request, exception: Exception,
                          spider: Spider | None = None) -> Request | Response | None:
        if isinstance(exception, Refused):
            return None
        if _SPIDER_ARGUMENT_OPTIONAL:  # Scrapy ≥ 2.13 warns when it is passed
            return super().process_exception(request, exception)
        return super().process_exception(request, exception, spider)


__all__ = ["DownloaderStats", "FetchGuard", "FetchPolicy", "Refused", "non_public", "registered_domain", "resolve"]
