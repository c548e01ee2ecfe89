"""Classes of pages that extraction used to get wrong, each tested on real pages.

The gne pages (53 real Chinese pages, GPL-3.0) live in ``../shared/pages/gne`` beside the repo,
their hand-written answers in tests/data/extraction/gne/.  Tests that need a gne page are
skipped when the pages are not there; the answers are read, never written, here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.article import Article
from crawler.extraction import extract
from crawler.extraction.scoring import char_f1, load_answers

DATA = Path(__file__).parent / "data" / "extraction"
GNE_PAGES = Path(__file__).resolve().parents[2] / "shared" / "pages" / "gne"
ANSWERS = {a["page"]: a for a in load_answers(DATA / "gne")}


def gne(page: str) -> tuple[bytes, dict[str, Any]]:
    """A gne page's bytes and its answer; skips when either is missing."""
    path = GNE_PAGES / page
    if not path.is_file():
        pytest.skip(f"gne pages not found at {GNE_PAGES}")
    if page not in ANSWERS:
        pytest.skip(f"{page} has no answer yet")
    return path.read_bytes(), ANSWERS[page]


def run(html: bytes, answer: dict[str, Any], fetched_at: datetime | None = None) -> Article:
    return extract(html, answer.get("url") or f"http://gne.invalid/{answer['page']}", fetched_at=fetched_at)


# --------------------------------------------------------------------------- 1. empty bodies


class TestFallbackWhenTheChosenBlockIsTiny:
    def test_article_inside_a_never_closed_header_div_is_found(self) -> None:
        # 163-1: the template opens <div class="post_header"> and never closes it, so the whole
        # article sits in a "header"; the first choice was an empty body
        html, answer = gne("163-1.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert art.provenance["body"] == "rule:density:unwrapped"

    def test_ordinary_page_keeps_the_first_choice(self) -> None:
        html, answer = gne("163-3.html")
        art = run(html, answer)
        assert char_f1(art.body, answer["body"]) >= 0.95
        assert art.provenance["body"] == "rule:density"

    def test_runner_up_block_when_the_best_block_is_a_caption(self) -> None:
        # the best-scoring block is a short promo paragraph in a content-classed box; the
        # article's paragraphs sit in a plain div beside it
        prose = "".join(
            f"<p>第{i}段：园区今年新签约项目三十二个，总投资二百八十六亿元，其中新能源汽车产业项目占比超过六成，"
            "产业集聚效应持续显现，下一步将围绕首位产业强链补链。</p>"
            for i in range(8)
        )
        html = (
            "<html><head><title>园区签约项目</title></head><body>"
            '<div class="article-content"><p>扫码关注，获取更多资讯，欢迎转发。</p></div>'
            f'<div class="header">{prose}</div>'
            "</body></html>"
        ).encode()
        art = extract(html, "http://example.invalid/a.html")
        assert "第7段" in art.body and "第0段" in art.body
        assert art.provenance["body"] in ("rule:density:unwrapped", "rule:density:second")
