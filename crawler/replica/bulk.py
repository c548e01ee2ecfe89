"""A big news site for benchmarks: thousands of article pages recombined from real paragraphs.

Every paragraph comes from the seed pages (or from whatever real texts the caller passes, such
as the cwced answers); nothing is written here. An article is a handful of paragraphs drawn
without replacement from the pool, titled with the first clause of its first paragraph. Every
``repost_every``-th article is a repost of an earlier one, the way portals repost each other: a
different 来源, the last paragraph dropped and an （原标题：…） line added, so dedupe has stories
with several sources to merge.

The pages use the news site's templates (``crawler.replica.news``), so extraction costs what it
costs on a real article page. The listing ``/bulk/index.html``, ``index_2.html`` … shows
``page_size`` articles a page, newest first, with a ``a.next`` link.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from crawler.replica.markup import SITE_EPOCH, answers, body_text, robots
from crawler.replica.news import NewsStory, _article_page, _listing_page, _page
from crawler.replica.resource import CST, HTML_UTF8, Resource, make_resource
from crawler.replica.seeds import continued_stories, dajiang, ganzhou_plan, park_items, qingshanhu, xize
from crawler.replica.text import plain

SECTION = "/bulk/"
LATEST = datetime(2025, 7, 2, 18, 0, 0, tzinfo=CST)
# Who the pages credit: the sites the seeds come from.
SOURCES = ("大江网", "产业园区网", "江西日报", "赣州市人民政府")
MIN_PARAGRAPH = 40  # shorter blocks are headings and date lines: poor article text
_CLAUSE = re.compile(r"[，。；：！？、（）“”,.;:!?()]")


@dataclass(frozen=True)
class BulkArticle:
    """One article of the bulk site; ``repost_of`` is the index of the article it reposts."""

    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    source: str
    repost_of: int | None = None


def paragraphs_of(texts: Iterable[str], min_chars: int = MIN_PARAGRAPH) -> tuple[str, ...]:
    """The distinct lines of ``texts`` with at least ``min_chars`` characters, in order."""
    seen: dict[str, None] = {}
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if len(line) >= min_chars:
                seen.setdefault(line, None)
    return tuple(seen)


@cache
def seed_paragraphs() -> tuple[str, ...]:
    """Every paragraph of the five seed pages long enough to be article text (bold marks removed)."""
    parts: list[str] = list(xize().paragraphs)
    for story in continued_stories():
        parts += story.front + story.back
    parts += dajiang().story.paragraphs
    parts += ganzhou_plan().paragraphs
    for item in park_items():
        parts += item.paragraphs
    for section in qingshanhu().stories:
        parts += section.paragraphs
    return paragraphs_of(plain(p) for p in parts)


def title_of(paragraph: str, limit: int = 30) -> str:
    """The first clause of ``paragraph`` (cut to ``limit`` characters): a headline from its own text."""
    clause = _CLAUSE.split(paragraph, 1)[0].strip()
    if len(clause) < 6:
        clause = paragraph[:20]
    return clause[:limit]


def _path(published: datetime, number: int) -> str:
    return f"/system/{published:%Y/%m/%d}/{number:09d}.shtml"


def bulk_articles(
    n: int, paragraphs: Sequence[str] | None = None, *, seed: int = 0, repost_every: int = 10
) -> list[BulkArticle]:
    """``n`` articles, newest first; deterministic for the same arguments.

    Originals take 3–7 paragraphs from a shuffled pool (reshuffled when it runs out, so two
    originals share a paragraph only by rare chance); every ``repost_every``-th article reposts a
    random earlier original (0 means no reposts).
    """
    pool = list(paragraphs if paragraphs is not None else seed_paragraphs())
    if len(pool) < 10:
        raise ValueError("need at least 10 paragraphs to build a bulk site")
    rng = random.Random(seed)
    deck: list[str] = []
    out: list[BulkArticle] = []
    originals: list[int] = []
    for i in range(n):
        published = LATEST - timedelta(minutes=17 * (n - 1 - i))  # built oldest first
        number = 30000000 + i
        if repost_every and originals and i % repost_every == repost_every - 1:
            k = rng.choice(originals)
            orig = out[k]
            body = (*orig.paragraphs[:-1], f"（原标题：{orig.title}）")
            source = rng.choice([s for s in SOURCES if s != orig.source])
            out.append(BulkArticle(_path(published, number), orig.title, body, published, source, repost_of=k))
            continue
        count = rng.randint(3, 7)
        if len(deck) < count:
            deck = pool[:]
            rng.shuffle(deck)
        body = tuple(deck.pop() for _ in range(count))
        originals.append(i)
        out.append(BulkArticle(_path(published, number), title_of(body[0]), body, published, rng.choice(SOURCES)))
    out.reverse()
    # indices were oldest-first; make repost_of point into the newest-first list
    return [a if a.repost_of is None else _reindexed(a, n) for a in out]


def _reindexed(article: BulkArticle, n: int) -> BulkArticle:
    assert article.repost_of is not None
    return BulkArticle(article.path, article.title, article.paragraphs, article.published, article.source,
                       repost_of=n - 1 - article.repost_of)


def _listing(page: int, pages: int, items: Sequence[BulkArticle]) -> str:
    return _listing_page(page, pages, items, window=4)


def build_bulk_site(
    n: int = 5000, paragraphs: Sequence[str] | None = None, *, seed: int = 0, page_size: int = 20,
    repost_every: int = 10,
) -> dict[str, Resource]:
    """Every page of a news site with ``n`` articles, keyed by path (see the module doc).

    Article pages carry ``expected`` answers like the other replica sites; the repost an article
    is derived from is ``expected["repost_of"]`` (its path), or None for an original.
    """
    arts = bulk_articles(n, paragraphs, seed=seed, repost_every=repost_every)
    site: dict[str, Resource] = {"/robots.txt": robots()}
    for i, art in enumerate(arts):
        story = NewsStory(art.path, art.title, art.paragraphs, art.published, art.source, editor="网络编辑")
        def stub(j: int) -> NewsStory | None:
            if not 0 <= j < len(arts):
                return None
            a = arts[j]
            return NewsStory(a.path, a.title, (), a.published, a.source, editor="")

        others = [s for s in (stub(i - 2), stub(i - 1), stub(i + 1), stub(i + 2)) if s is not None]
        prev, nxt = stub(i - 1), stub(i + 1)
        html = _article_page(story, prev, nxt, others)
        repost_of = arts[art.repost_of].path if art.repost_of is not None else None
        expected = answers(art.title, body_text(art.paragraphs), art.published, art.source, repost_of=repost_of)
        site[art.path] = make_resource(html.encode("utf-8"), HTML_UTF8, art.published, expected)
    pages = -(-len(arts) // page_size)
    for page in range(1, pages + 1):
        chunk = arts[(page - 1) * page_size : page * page_size]
        name = "index.html" if page == 1 else f"index_{page}.html"
        site[f"{SECTION}{name}"] = make_resource(_listing(page, pages, chunk).encode("utf-8"), HTML_UTF8,
                                                 chunk[0].published)
    home = _page("大江网_中国江西网", "江西新闻",
                 f'<div class="wrap"><h2><a href="{SECTION}index.html">江西新闻</a></h2></div>')
    site["/index.html"] = make_resource(home.encode("utf-8"), HTML_UTF8, arts[0].published if arts else SITE_EPOCH)
    missing = _page("404_大江网", "404", '<div class="wrap"><h2>404</h2><p>抱歉，您访问的页面不存在。</p></div>')
    site["/404.html"] = make_resource(missing.encode("utf-8"), HTML_UTF8, SITE_EPOCH)
    return site
