"""What changed between two versions of a page: the pure part of revision tracking.

Paragraphs (lines of the cleaned body) are aligned with :mod:`difflib`; a replaced paragraph
counts as *changed*, and its characters are diffed to count what was added and removed.
``storage.queries`` stores the result of :func:`describe_revision` next to the old text
(``article_revisions``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["REVISION_FIELDS", "Change", "Version", "describe_change", "describe_revision"]

MAX_CHANGES = 20  # paragraph changes kept verbatim; the counts cover all of them
MAX_QUOTE = 500  # characters of each quoted paragraph
#: fields whose change is named in a revision's summary (the body is diffed paragraph by paragraph)
REVISION_FIELDS = ("title", "published_at", "source_name", "author", "doc_number", "issuer", "index_no")


@dataclass(frozen=True)
class Change:
    """The difference between an old and a new version of one article."""

    summary: str
    fields: tuple[str, ...] = ()
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_changed: int = 0
    chars_added: int = 0
    chars_removed: int = 0
    changes: tuple[dict[str, str], ...] = field(default_factory=tuple)


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n") if p.strip()]


def _char_delta(old: str, new: str) -> tuple[int, int]:
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed += i2 - i1
        if op in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe_change(
    old_body: str,
    new_body: str,
    *,
    old_fields: Mapping[str, Any] | None = None,
    new_fields: Mapping[str, Any] | None = None,
) -> Change:
    """How ``new_body`` differs from ``old_body``, plus which metadata fields changed.

    ``old_fields`` / ``new_fields`` map field names (title, published_at, doc_number …) to
    values; a field counts as changed when its values differ. The summary is one line, e.g.
    ``body: 1 paragraph changed, 1 paragraph added (+35 −12 characters); fields: title``.
    """
    old_fields = old_fields or {}
    new_fields = new_fields or {}
    fields = tuple(sorted(k for k in set(old_fields) | set(new_fields) if old_fields.get(k) != new_fields.get(k)))
    old_p, new_p = _paragraphs(old_body), _paragraphs(new_body)
    added = removed = changed = chars_added = chars_removed = 0
    quotes: list[dict[str, str]] = []

    def quote(op: str, old: str = "", new: str = "") -> None:
        if len(quotes) < MAX_CHANGES:
            quotes.append({"op": op, "old": old[:MAX_QUOTE], "new": new[:MAX_QUOTE]})

    matcher = difflib.SequenceMatcher(None, old_p, new_p, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        olds, news = old_p[i1:i2], new_p[j1:j2]
        pairs = min(len(olds), len(news)) if op == "replace" else 0
        for old, new in zip(olds[:pairs], news[:pairs], strict=True):
            changed += 1
            plus, minus = _char_delta(old, new)
            chars_added += plus
            chars_removed += minus
            quote("changed", old, new)
        for old in olds[pairs:]:
            removed += 1
            chars_removed += len(old)
            quote("removed", old=old)
        for new in news[pairs:]:
            added += 1
            chars_added += len(new)
            quote("added", new=new)
    counts = [(changed, "changed"), (added, "added"), (removed, "removed")]
    said = ", ".join(f"{_plural(n, 'paragraph')} {what}" for n, what in counts if n)
    summary = []
    if said:
        summary.append(f"body: {said} (+{chars_added} −{chars_removed} characters)")
    elif old_body != new_body:
        summary.append("body: layout only")
    if fields:
        summary.append("fields: " + ", ".join(fields))
    return Change(
        summary="; ".join(summary) or "no change",
        fields=fields,
        paragraphs_added=added,
        paragraphs_removed=removed,
        paragraphs_changed=changed,
        chars_added=chars_added,
        chars_removed=chars_removed,
        changes=tuple(quotes),
    )


class Version(Protocol):
    """A version of an article: an :class:`~crawler.article.Article` or a stored row. It also
    has every attribute of :data:`REVISION_FIELDS`."""

    @property
    def body(self) -> str: ...


def describe_revision(old: Version, new: Version) -> Change:
    """How article ``new`` differs from ``old`` (a stored version): :func:`describe_change` of
    their ``body`` and their :data:`REVISION_FIELDS`."""
    return describe_change(
        old.body, new.body,
        old_fields={name: getattr(old, name) for name in REVISION_FIELDS},
        new_fields={name: getattr(new, name) for name in REVISION_FIELDS},
    )
