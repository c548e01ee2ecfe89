"""Exact duplicate detection: one canonical form per URL, one hash per normalised body, one key
per 发文字号. Near-duplicates are ``crawler.dedupe.neardup``'s.

Pure functions. The database decides what is already stored (see ``storage.queries``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from crawler.text.normalize import normalize_for_hash

# Query parameters that track a visit and never change the page.
_TRACKING = re.compile(r"^(utm_\w+|spm|from|share_?from|isappinstalled|wxshare_count|scene|clicktime|"
                       r"enterid|_t|timestamp|source|sharer_\w+)$", re.I)
# "Default documents": /a/index.html and /a/ are the same page on every CMS we watch.
_DEFAULT_DOC = re.compile(r"/(index|default)\.(html?|shtml|php|jsp|aspx?)$", re.I)


# Mobile editions: m.jxnews.com.cn/a/1.html is www.jxnews.com.cn/a/1.html on the CMSs we watch.
_MOBILE_HOST = re.compile(r"^(?:m|wap|3g|mobile)\.(?P<rest>.+)$")
# Registry suffixes: "m.gov.cn" is not a mobile edition of a site called "gov.cn".
_SUFFIXES = {"cn", "com", "net", "org", "gov", "edu", "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn"}


def _check_host(host: str) -> str:
    """``host``, or ValueError when it ends in a number but is no IPv4 address (m.127.0.0.1,
    1.2.3.4.5): the URL standard refuses such hosts, and w3lib does from 2.6 on; refusing them
    here keeps the canonical form the same whichever w3lib is installed."""
    labels = host.rstrip(".").split(".")
    last = labels[-1] if labels else ""
    ends_in_number = last.isdigit() or last.lower().startswith("0x")
    if ends_in_number and (len(labels) != 4 or not all(p.isdigit() and int(p) <= 255 for p in labels)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    return host


def _desktop_host(host: str) -> str:
    """``host`` with a mobile label (``m.``, ``wap.``, ``3g.``, ``mobile.``) swapped for ``www.``,
    when what follows is a site's own domain and not a bare registry suffix; IPs never change."""
    match = _MOBILE_HOST.match(host)
    if not match or host.replace(".", "").isdigit():
        return host
    rest = match.group("rest")
    if rest in _SUFFIXES or "." not in rest:
        return host
    return "www." + rest


# A link already in canonical form but for its host, port and default document: lower-case
# scheme and host, a path of unreserved characters only (no escapes, no query, no fragment). Most
# article links are; for them the general path (urlsplit, parse_qsl, w3lib's canonicalize_url)
# costs 16 µs a link and changes nothing more, and a crawl looks every link it finds up.
_PLAIN = re.compile(r"(https?)://((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
                    r"(?::([1-9][0-9]{0,4}))?(/[A-Za-z0-9._~/-]*)")
_DEFAULT_PORTS = {("http", "80"), ("https", "443")}


@lru_cache(maxsize=8192)  # a crawl asks for each link twice: is it stored? (listing), store it
def canonical_url(url: str) -> str:
    """The one form under which a page is stored.

    Lower-case scheme and host, no default port, no fragment, sorted query without tracking
    parameters, ``/dir/index.html`` folded to ``/dir/``, and the mobile host of a site
    (``m.`` / ``wap.`` / ``3g.`` / ``mobile.``) folded to its ``www.`` host. ``http`` and
    ``https`` stay distinct: Chinese government sites often serve different content on them.
    """
    plain = _PLAIN.fullmatch(url)
    # dot segments ("/./", "/../") are resolved by the general path
    if plain is not None and "/." not in plain[4] and int(plain[3] or 0) <= 65535:
        scheme, host, port, path = plain.groups()
        host = _desktop_host(_check_host(host))
        if port and (scheme, port) not in _DEFAULT_PORTS:
            host = f"{host}:{port}"
        return f"{scheme}://{host}{_DEFAULT_DOC.sub('/', path)}"
    return _canonical_url(url)


def _canonical_url(url: str) -> str:
    """:func:`canonical_url` for any URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = _desktop_host(_check_host((parts.hostname or "").lower()))
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = _DEFAULT_DOC.sub("/", parts.path or "/")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _TRACKING.match(k)])
    return canonicalize_url(urlunsplit((scheme, host, path, query, "")))


def content_hash(body: str) -> str:
    """SHA-256 of the body with whitespace, character width and punctuation folded.

    Two pages whose text differs only in spacing, full-/half-width forms or punctuation hash
    the same; any change of wording does not.
    """
    return hashlib.sha256(normalize_for_hash(body).encode("utf-8")).hexdigest()


# 赣市发〔2022〕5号, 国办发[2024]1号, 京政办字（2023）第12号: issuer code, year, serial number
_DOC_NUMBER = re.compile(
    r"^(?P<code>.*?)[〔\[(【]\s*(?P<year>(?:19|20)\d{2})\s*[〕\])】]\s*(?:第\s*)?0*(?P<n>\d{1,5})\s*号$"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE = re.compile(r"\s+")


def document_key(doc_number: str, issuer: str = "") -> str:
    """One key per official document, the same wherever it is posted ("" when there is none).

    A 发文字号 with an issuer code (``赣市发〔2022〕5号``) names its issuer by itself, so the key
    is the number with brackets, widths, spacing and leading zeros folded
    (``赣市发[2022]05号`` → ``赣市发〔2022〕5号``). A bare number (``〔2022〕5号``, ``2022年第5号``)
    is only a document together with its 发文机关, so the key then needs ``issuer``.
    """
    number = _SPACE.sub("", unicodedata.normalize("NFKC", doc_number))
    if not number:
        return ""
    match = _DOC_NUMBER.match(number)
    if match:
        number = f"{match.group('code')}〔{match.group('year')}〕{match.group('n')}号"
        if _CJK.search(match.group("code")):
            return number[:300]
    who = _SPACE.sub("", unicodedata.normalize("NFKC", issuer))
    return f"{who}|{number}"[:300] if who else ""
