"""A 加速乐 (Jiasule)-style challenge in front of a news column: the answer a site behind that
CDN gives a client without its clearance cookie.

A request without a valid ``__jsl_clearance`` cookie is answered ``521`` with a ``__jsluid_h``
cookie (``Set-Cookie``, HttpOnly) and a page that is one inline script: it builds the clearance
value character by character from JavaScript expressions (``('_')+('_')+(-~1+'')…``, as the
vendor's obfuscated first stage does), sets it with ``document.cookie`` and reloads with
``location.href=location.pathname+location.search``. The value is bound to the ``__jsluid_h``
cookie and the User-Agent, so a client must run the script (or hold cookies a browser earned,
with the same User-Agent) to be let through. Every path is behind it, ``robots.txt`` included;
with the cookies the column (a listing of a dozen articles from the seeds' real text) is served.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from base64 import b64encode
from collections.abc import Mapping
from functools import partial

from crawler.replica.bulk import build_bulk_site
from crawler.replica.markup import SITE_EPOCH
from crawler.replica.resource import HTML_UTF8, Page, Request, Resource, make_resource

_SECRET = b"replica-jiasule"
# digits as the vendor's first stage writes them: expressions whose value, plus '', is the digit
_DIGITS = {
    "0": "(+[]+'')", "1": "(+!+[]+'')", "2": "(-~1+'')", "3": "(1+2+'')", "4": "((2<<1)+'')",
    "5": "(~~5+'')", "6": "(3*2+'')", "7": "(3+4+'')", "8": "((1<<3)+'')", "9": "(2+7+'')",
}


def clearance(jsluid: str, user_agent: str, issued: int) -> str:
    """The ``__jsl_clearance`` value the script sets for this visitor: ``<time>.<ms>|0|<mac>``."""
    mac = hmac.new(_SECRET, f"{jsluid}|{user_agent}|{issued}".encode(), hashlib.sha1).digest()
    return f"{issued}.{issued % 997:03d}|0|{b64encode(mac).decode().replace('=', '%3D')}"


def _valid(value: str, jsluid: str, user_agent: str) -> bool:
    try:
        issued = int(value.split(".", 1)[0])
    except ValueError:
        return False
    return time.time() - issued < 3600 and hmac.compare_digest(value, clearance(jsluid, user_agent, issued))


def _obfuscated(text: str) -> str:
    return "+".join(_DIGITS.get(ch) or f"('{ch}')" for ch in text)


def challenge_page(jsluid: str, user_agent: str) -> bytes:
    """The 521 body: one script that sets the clearance cookie and reloads."""
    cookie = f"__jsl_clearance={clearance(jsluid, user_agent, int(time.time()))};max-age=3600;path=/"
    return (f"<script>document.cookie={_obfuscated(cookie)};"
            "location.href=location.pathname+location.search</script>").encode("ascii")


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().partition("=") for part in header.split(";"))
    return {name: value for name, eq, value in pairs if eq}


def _gate(page: Resource, request: Request) -> Resource:
    cookies = _cookies(request.headers.get("cookie", ""))
    agent = request.headers.get("user-agent", "")
    jsluid = cookies.get("__jsluid_h", "")
    if jsluid and _valid(cookies.get("__jsl_clearance", ""), jsluid, agent):
        return page
    headers: tuple[tuple[str, str], ...] = ()
    if not jsluid:
        jsluid = hashlib.md5(f"{agent}|{time.time_ns()}".encode()).hexdigest()
        headers = (("Set-Cookie", f"__jsluid_h={jsluid}; max-age=31536000; path=/; HttpOnly"),)
    body = challenge_page(jsluid, agent)
    blocked = make_resource(body, HTML_UTF8, SITE_EPOCH)
    return Resource(blocked.body, blocked.content_type, blocked.etag, blocked.last_modified, status=521,
                    headers=(*headers, ("Cache-Control", "no-cache")))


def build_challenge() -> Mapping[str, Page]:
    """Every path of the column, each behind the challenge."""
    site = build_bulk_site(12, seed=521, page_size=20, repost_every=0)
    return {path: partial(_gate, page) for path, page in site.items() if path != "/404.html"}


__all__ = ["build_challenge", "challenge_page", "clearance"]
