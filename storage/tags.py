"""Tags as stored with articles and events: the ``tags:`` of the source an article came from, at
the time it was stored, in one text column (``articles.tags``, ``events.tags``).

The column holds the tags between commas, ``,policy,investment,`` ("" for none), so any SQL
finds a tag the same way on SQLite and PostgreSQL: ``WHERE tags LIKE '%,policy,%'``. A source
tag may not contain a comma (``crawler.config.sources`` refuses one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["TAG_ESCAPE", "any_tag", "merged", "tag_like", "tags_of", "tags_text"]

#: the escape character of :func:`tag_like`'s patterns (``LIKE :tag ESCAPE '\\'``)
TAG_ESCAPE = "\\"


def tags_text(tags: Iterable[str]) -> str:
    """The column's text for ``tags``: each once, in the order given, between commas."""
    kept = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    return f",{','.join(kept)}," if kept else ""


def tags_of(text: str | None) -> tuple[str, ...]:
    """The tags a column's text holds."""
    return tuple(t for t in (text or "").split(",") if t)


def merged(text: str | None, tags: Iterable[str]) -> str:
    """The column's text with ``tags`` added (an event gains the tags of each source reporting it)."""
    return tags_text((*tags_of(text), *tags))


def tag_like(tag: str) -> str:
    """A LIKE pattern (escaped with :data:`TAG_ESCAPE`) matching a column that carries ``tag``."""
    escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def any_tag(column: ColumnElement[str] | InstrumentedAttribute[str], tags: Sequence[str]) -> ColumnElement[bool]:
    """SQL: the row carries at least one of ``tags`` (false for none given)."""
    if not tags:
        return false()
    return or_(*(column.contains(f",{t},", autoescape=True) for t in tags))
