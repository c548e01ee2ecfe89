"""Which story a new article joins (crawler.dedupe.stories), decided without a database."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from crawler.dedupe.neardup import JOIN_THRESHOLD, fingerprint, jaccard
from crawler.dedupe.stories import MAX_CANDIDATES, Decision, Joining, decide, rank

AT = datetime(2025, 7, 2, tzinfo=UTC)
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def body(seed: int, n: int = 400) -> str:
    """A body of ``n`` characters that shares almost no 5-gram with another seed's."""
    rng = random.Random(seed)
    return "".join(rng.choice(_HAN) for _ in range(n))


def joining(text: str, doc_key: str = "", source: str = "s") -> Joining:
    return Joining("t", source, doc_key, fingerprint(text), AT)


def test_a_repost_joins_the_stored_story_of_its_original() -> None:
    original, repost = body(1), "来源：某某网" + body(1)[:-20]
    assert jaccard(fingerprint(original).shingles, fingerprint(repost).shingles) >= JOIN_THRESHOLD
    [d] = decide([joining(repost)], {}, [[7]], [(7, 70, original)])
    assert d.story == 70 and d.match == "near" and d.matched == 7
    assert d.similarity is not None and d.similarity >= JOIN_THRESHOLD


def test_a_candidate_below_the_threshold_opens_a_story() -> None:
    assert decide([joining(body(2))], {}, [[7]], [(7, 70, body(3))]) == [Decision(-1, "first")]


def test_the_document_key_wins_over_text() -> None:
    [d] = decide([joining(body(4), doc_key="赣府发〔2025〕3号|江西省人民政府")],
                 {"赣府发〔2025〕3号|江西省人民政府": (5, 50)}, [[7]], [(7, 70, body(4))])
    assert d == Decision(50, "document", None, 5)


def test_the_most_similar_story_is_chosen() -> None:
    text = body(5)
    close, far = text[:-10], text[:200] + body(6)[:200]
    [d] = decide([joining(text)], {}, [[8, 9]], [(8, 80, far), (9, 90, close)])
    assert (d.story, d.matched) == (90, 9)


def test_articles_of_one_batch_join_each_other_as_if_stored_one_by_one() -> None:
    a, b = body(7), body(8)
    batch = [joining(a), joining(b), joining(a[5:]), joining(body(9), doc_key="k"), joining(body(10), doc_key="k")]
    out = decide(batch, {}, [[], [], [], [], []], [])
    assert [(d.story, d.match) for d in out] == [(-1, "first"), (-2, "first"), (-1, "near"), (-3, "first"),
                                                 (-3, "document")]
    assert out[2].matched == -1 and out[4].matched == -4  # the first and the fourth of the batch


def test_a_body_too_short_to_judge_opens_its_own_story() -> None:
    assert decide([joining("短讯")], {}, [[7]], [(7, 70, "短讯")]) == [Decision(-1, "first")]


def test_rank_orders_by_shared_keys_then_age_and_caps_the_list() -> None:
    holders = {1: [10, 11], 2: [11, 12], 3: [11]}
    assert rank([1, 2, 3], holders) == [11, 10, 12]
    assert rank([1, 2, 3], holders, higher_ids_first=True) == [11, 12, 10]
    many = {1: list(range(100))}
    assert rank([1], many) == list(range(MAX_CANDIDATES))
