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

A key is exact by design (a lookup). :func:`same_event` is the looser test for two reports the
key sets apart although they state the same thing (a repost credited to another region or
dated in another month): ``storage.events`` applies it to the events of one story.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from crawler.events.model import Event

__all__ = ["EventFacts", "event_key", "same_event"]

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


class EventFacts(Protocol):
    """What :func:`same_event` compares: a detected :class:`Event` or a stored event row."""

    @property
    def type(self) -> str: ...
    @property
    def subtype(self) -> str: ...
    @property
    def amount(self) -> float | None: ...
    @property
    def amount_cny(self) -> float | None: ...
    @property
    def project_count(self) -> int | None: ...
    @property
    def growth_pct(self) -> float | None: ...
    @property
    def parties(self) -> Sequence[str]: ...
    @property
    def evidence(self) -> str: ...


def same_event(a: EventFacts, b: EventFacts) -> bool:
    """Whether two reports state the same thing: the same type and subtype, and every figure
    either states (amount in yuan when known, project count, growth rate) stated by both and
    within 0.5 %; or, without figures, the same parties; or, without those, the same evidence.
    Parties and evidence are folded as the key folds them, so two reports whose keys agree on
    them agree here too."""
    if (a.type, a.subtype) != (b.type, b.subtype):
        return False
    figures = [(a.amount_cny if a.amount_cny is not None else a.amount,
                b.amount_cny if b.amount_cny is not None else b.amount),
               (a.project_count, b.project_count), (a.growth_pct, b.growth_pct)]
    stated = [(x, y) for x, y in figures if x is not None or y is not None]
    if stated:
        return all(x is not None and y is not None and abs(x - y) <= 0.005 * max(abs(x), abs(y)) for x, y in stated)
    if a.parties or b.parties:
        return {_norm(p) for p in a.parties} == {_norm(p) for p in b.parties}
    return _norm(a.evidence) == _norm(b.evidence)
