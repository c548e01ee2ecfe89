"""Story matching: which story a new article joins. Pure; ``storage.stories`` reads the
candidates and writes the result.

A new article joins the story of

1. an article with the same document key (the same 发文字号 from the same issuer), else
2. the most similar near-duplicate whose *exact* Jaccard similarity reaches
   ``crawler.dedupe.neardup.JOIN_THRESHOLD`` (candidates come from the LSH index: the articles
   sharing the most band keys, :func:`rank`),

else it opens a story of its own, as its canonical (first-seen) article. Articles of one batch
can join each other's stories, as if stored one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from crawler.dedupe.neardup import JOIN_THRESHOLD, Fingerprint, jaccard, shingle_set

if TYPE_CHECKING:
    from crawler.dedupe.neardup import Shingles

__all__ = ["MAX_CANDIDATES", "Decision", "Joining", "decide", "rank"]

MAX_CANDIDATES = 20
"""Articles checked for one new body at most, those sharing the most band keys first: reposts of
one story share most of their keys, so a story with many members is not checked member by member."""


@dataclass(frozen=True)
class Joining:
    """A new article about to be inserted: what story assignment looks at."""

    title: str
    source: str
    doc_key: str
    near: Fingerprint
    at: datetime


#: how an article joined its story: it opened it (``first``), its text is a near-duplicate of a
#: member's (``near``), or it is the same document (``document``: the same document key)
MatchKind = Literal["first", "near", "document"]
#: the kinds that join an existing story
JOINED: tuple[MatchKind, ...] = ("near", "document")


@dataclass(frozen=True)
class Decision:
    """Where one article of a batch goes. ``story`` is a stored story's id, or ``-n`` for the
    ``n``-th story this batch opens (``match`` "first": the article opens it). ``matched`` is the
    article it matched: a stored id, or ``-1 - n`` for the ``n``-th article of the batch."""

    story: int
    match: MatchKind
    similarity: float | None = None
    matched: int | None = None


def rank(keys: Sequence[int], holders: Mapping[int, Sequence[int]], *, higher_ids_first: bool = False) -> list[int]:
    """The articles of ``holders`` (band key → articles indexed under it) sharing a key with
    ``keys``, at most :data:`MAX_CANDIDATES`: those sharing the most first, then by id, lowest
    (the oldest stored article) first or, with ``higher_ids_first``, highest first."""
    shared: dict[int, int] = {}
    for key in set(keys):
        for article_id in holders.get(key, ()):
            shared[article_id] = shared.get(article_id, 0) + 1
    order = -1 if higher_ids_first else 1
    return sorted(shared, key=lambda a: (-shared[a], order * a))[:MAX_CANDIDATES]


@dataclass
class _Member:
    """An article that can be matched: stored before this batch (its ``body``), or placed
    earlier in it (its fingerprint ``near``). Shingles are computed when first compared."""

    story: int  # a stored story's id, or -n for the n-th story this batch opens
    near: Fingerprint | None = None
    body: str = ""
    _shingles: Shingles | None = None

    def shingle_set(self) -> Shingles:
        if self._shingles is None:
            self._shingles = self.near.shingles if self.near is not None else shingle_set(self.body)
        return self._shingles


def _best_match(ranked: list[int], members: dict[int, _Member], near: Fingerprint) -> tuple[int, int, float] | None:
    """The member (id, story, similarity) of the highest exact Jaccard at or above the threshold."""
    best: tuple[int, int, float] | None = None
    for other_id in ranked:
        member = members[other_id]
        if best is not None and best[1] == member.story:
            continue  # one verified member is enough to join a story
        similarity = jaccard(near.shingles, member.shingle_set())
        if similarity >= JOIN_THRESHOLD and (best is None or similarity > best[2]):
            best = (other_id, member.story, similarity)
    return best


def decide(joining: Sequence[Joining], documents: Mapping[str, tuple[int, int]],
           candidates: Sequence[Sequence[int]], stored: Iterable[tuple[int, int, str]]) -> list[Decision]:
    """The story of each article of ``joining`` (in this order), given what is stored:
    ``documents`` (document key → its first stored article and that article's story),
    ``candidates`` (for each article of ``joining``, the stored articles sharing its band keys,
    best first, as :func:`rank` orders them) and ``stored`` (``(article_id, story_id, body)`` of
    those candidates that are in a story)."""
    by_document = dict(documents)
    members: dict[int, _Member] = {article_id: _Member(story_id, body=body) for article_id, story_id, body in stored}
    batch_bands: dict[int, list[int]] = {}  # band key -> articles of this batch indexed under it
    decided: list[Decision] = []
    opened = 0
    for n, (j, ranked_stored) in enumerate(zip(joining, candidates, strict=True)):
        me = -1 - n  # this batch's articles have no id yet
        match: Decision | None = None
        if j.doc_key and j.doc_key in by_document:
            other, story = by_document[j.doc_key]
            match = Decision(story, "document", None, other)
        elif j.near.indexable:
            ranked = [a for a in ranked_stored if a in members]
            # this batch's articles are -1, -2, … in order: the oldest has the highest id
            ranked += rank(j.near.bands, batch_bands, higher_ids_first=True)
            best = _best_match(ranked, members, j.near)
            if best is not None:
                match = Decision(best[1], "near", round(best[2], 4), best[0])
        if match is None:
            opened += 1
            match = Decision(-opened, "first")
        decided.append(match)
        members[me] = _Member(match.story, near=j.near)
        if j.doc_key:
            by_document.setdefault(j.doc_key, (me, match.story))
        for key in j.near.bands:
            batch_bands.setdefault(key, []).append(me)
    return decided
