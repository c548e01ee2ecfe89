"""A stable key for "one real-world event", so reposts of the same release share it.

Key = type · subtype · region · who/what · how much · when:

* **who/what** — the parties, normalised (width, case, punctuation and spaces folded) and sorted,
  so "富乐德·长飞半导体" and "富乐德长飞半导体" match;
* **how much** — the amount rounded to three significant figures (772.67亿 and 约773亿 match),
  with its currency; else the project count; else the growth rate;
* **when** — for trade figures the stated period with its year (a figure for 2021年 is the same
  figure whenever it is reposted); for signings and openings the month of publication.  A month
  rather than an ISO week: reposts trail the original by days, and a week boundary splits them
  four times as often as a month boundary, while two different events of the same type, region,
  parties and amount in one month are rare.
* When an event has neither parties nor figures, a short hash of its normalised evidence keeps
  unrelated figure-less events apart (exact reposts still share it).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from decimal import Decimal

from crawler.events.model import Event

__all__ = ["event_key"]

_FOLD = re.compile(r"[\W_]+", re.UNICODE)
_YEAR = re.compile(r"(\d{4})年")
_MAX = 300  # the events.event_key column


def _norm(text: str) -> str:
    return _FOLD.sub("", unicodedata.normalize("NFKC", text).lower())


def _round3(value: float) -> str:
    if value == 0:
        return "0"
    rounded = Decimal(repr(value)).normalize()
    digits = rounded.adjusted()
    quant = Decimal(1).scaleb(digits - 2)
    return format(rounded.quantize(quant).normalize(), "f")


def _window(event: Event, published: date | None) -> str:
    if event.type == "trade":
        period = _norm(event.period)
        if _YEAR.search(event.period) or published is None:
            return period
        return f"{published.year}{period}"
    return f"{published.year:04d}-{published.month:02d}" if published else ""


def event_key(event: Event, published: date | None) -> str:
    """The key shared by every report of the same real-world event (see the module doc)."""
    parties = "+".join(sorted({_norm(p) for p in event.parties if _norm(p)}))[:80]
    if event.amount is not None:
        size = _round3(event.amount) + (event.currency if event.currency not in ("", "CNY") else "")
    elif event.project_count is not None:
        size = f"n{event.project_count}"
    elif event.growth_pct is not None:
        size = f"g{event.growth_pct:g}"
    else:
        size = ""
    parts = [event.type, event.subtype, event.region, parties, size, _window(event, published)]
    if not parties and not size:
        parts.append(hashlib.sha1(_norm(event.evidence).encode("utf-8")).hexdigest()[:10])
    key = "|".join(parts)
    if len(key) > _MAX:
        key = key[: _MAX - 11] + "#" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]
    return key
