"""Exact duplicate detection: one canonical form per URL, one hash per normalised body.

Pure functions. The database decides what is already stored (see ``storage.queries``).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from crawler.textnorm import normalize_for_hash

# Query parameters that track a visit and never change the page.
_TRACKING = re.compile(r"^(utm_\w+|spm|from|share_?from|isappinstalled|wxshare_count|scene|clicktime|"
                       r"enterid|_t|timestamp|source|sharer_\w+)$", re.I)
# "Default documents": /a/index.html and /a/ are the same page on every CMS we watch.
_DEFAULT_DOC = re.compile(r"/(index|default)\.(html?|shtml|php|jsp|aspx?)$", re.I)


def canonical_url(url: str) -> str:
    """The one form under which a page is stored.

    Lower-case scheme and host, no default port, no fragment, sorted query without tracking
    parameters, and ``/dir/index.html`` folded to ``/dir/``. ``http`` and ``https`` stay distinct:
    Chinese government sites often serve different content on them.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
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
