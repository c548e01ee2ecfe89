"""Incremental crawling and stories end to end, over real HTTP, on SQLite and PostgreSQL.

The replica news site reposts two park-portal stories under another header and 来源; crawling both
sites must give one story with two sources and one event each. Re-crawls fetch no stored article
again, listing pages come back 304, and ``radar crawl --recheck`` stores a changed page as a
revision while unchanged ones cost a 304. Crawls run as child processes, as the daemon runs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from crawler.config.sources import parse_config
from crawler.errors import ConfigError
from crawler.replica.server import ReplicaSites
from storage.db import open_database
from storage.models import ArticleRevisionRow, ArticleRow, CrawlRunRow, EventRow, StoryRow
from tests.e2e import radar, write_config

ARTICLE_PATHS = re.compile(r"/(system/\d{4}/|news/\d{4}-|zwgk/zcwj/\d{6}/|html/\d{4}-\d{2}/\d{2}/content_)")


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {"name": "site-a", "kind": "listing", "start_urls": ["http://127.0.0.1/list"],
                                "allow": r"/art/\d+\.html$", "schedule": "0 */2 * * *"}
    entry.update(overrides)
    return entry


def test_recheck_keys() -> None:
    cfg = parse_config({"sources": [_entry(recheck={"every": "1d"}, recheck_days=3)]}, env={})
    source = cfg.sources["site-a"]
    assert (source.recheck and source.recheck.every, source.recheck_days) == (timedelta(days=1), 3)
    plain = parse_config({"sources": [_entry()]}, env={}).sources["site-a"]
    assert (plain.recheck, plain.recheck_days) == (None, 7)
    for overrides, key in (({"recheck": "every: 0d"}, "recheck"), ({"recheck_days": 0}, "recheck_days"),
                           ({"recheck_days": "7"}, "recheck_days"),
                           ({"kind": "epaper", "pages": "/node", "recheck": "0 3 * * *"}, "recheck")):
        with pytest.raises(ConfigError) as info:
            parse_config({"sources": [_entry(**overrides)]}, env={})
        assert (info.value.source, info.value.key) == ("site-a", key)


@pytest.fixture
def sites() -> Iterator[ReplicaSites]:
    """Replica sites of this test's own: it changes a page while they run."""
    with ReplicaSites() as running:
        yield running


def _config(sites: ReplicaSites, db_url: str, directory: Path) -> Path:
    path = write_config(sites.urls, db_url, directory)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for source in data["sources"]:
        if source["kind"] == "listing":
            source["recheck"] = {"every": "1d"}
            source["recheck_days"] = 36500  # the replica's pages are dated 2022–2025
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _article_requests(sites: ReplicaSites, since: int) -> list[str]:
    return [f"{site}{path}" for site, path in sites.requests[since:] if ARTICLE_PATHS.search(path)]


def _runs(db_url: str, n: int) -> list[CrawlRunRow]:
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        rows = list(s.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id.desc()).limit(n)))
    engine.dispose()
    return rows


@pytest.mark.slow
def test_stories_and_incremental_crawls(sites: ReplicaSites, db_url: str, tmp_path: Path) -> None:
    config = _config(sites, db_url, tmp_path)
    first = radar("--config", str(config), "crawl")
    assert first.returncode == 0, first.stderr + first.stdout
    fetched = _article_requests(sites, 0)

    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        for place, title in (("杭州", "杭州进出口规模突破7000亿元"), ("黄冈", "富乐德·长飞半导体项目落户黄冈")):
            members = [a for a in s.scalars(select(ArticleRow)) if a.title.startswith(title)]
            assert {a.source for a in members} == {"cnip-park", "jxnews"}, place
            assert len({a.story_id for a in members}) == 1, place
            story = s.get(StoryRow, members[0].story_id)
            assert story is not None
            assert (story.article_count, story.source_count, story.sources) == (2, 2, ["cnip-park", "jxnews"])
            assert story.article_id == min(a.id for a in members)  # the first stored is canonical
            joined = [a for a in members if a.id != story.article_id]
            assert [a.story_match for a in joined] == ["near"] and joined[0].story_similarity is not None
            kind = "trade" if place == "杭州" else "signing"
            events = [e for e in s.scalars(select(EventRow).where(EventRow.type == kind)) if place in e.region]
            assert len(events) == 1, [(e.amount_text, e.region) for e in events]
            assert {m.article_id for m in events[0].mentions} == {a.id for a in members}
        singles = s.scalars(select(StoryRow).where(StoryRow.article_count == 1, StoryRow.source_count == 1)).all()
        assert len(singles) >= 15  # everything else stands alone
        hangzhou = next(a for a in s.scalars(select(ArticleRow).where(ArticleRow.source == "cnip-park"))
                        if a.title.startswith("杭州进出口"))
        hangzhou_url, article_count = hangzhou.url, len(s.scalars(select(ArticleRow)).all())
        assert hangzhou.etag.startswith('"')  # the page's validators are kept for re-checks
    engine.dispose()

    # second crawl: every listing page holds only stored articles; none is fetched again
    mark = len(sites.requests)
    second = radar("--config", str(config), "crawl")
    assert second.returncode == 0, second.stderr
    assert _article_requests(sites, mark) == []
    # third crawl: those listing pages now answer 304 to their saved validators
    mark = len(sites.requests)
    third = radar("--config", str(config), "crawl")
    assert third.returncode == 0, third.stderr
    assert _article_requests(sites, mark) == []
    runs = _runs(db_url, 4)
    assert {r.source for r in runs} == {"ganzhou-gov", "jxnews", "cnip-park", "jxdaily-epaper"}
    assert all(r.stats.get("radar/not_modified", 0) >= 1 for r in runs), [(r.source, r.stats) for r in runs]
    assert sum(r.new for r in runs) == 0

    # the park portal corrects its figure; a re-check stores a revision and 304s the rest
    path = hangzhou_url.split("/", 3)[3]
    page = sites.pages("park")["/" + path]
    sites.set_page("park", "/" + path, page.body.decode("utf-8").replace("7369.0亿元", "8369.0亿元").encode())
    mark = len(sites.requests)
    recheck = radar("--config", str(config), "crawl", "--recheck", "cnip-park")
    assert recheck.returncode == 0, recheck.stderr
    park_articles = [p for p in fetched if p.startswith("park")]
    assert sorted(_article_requests(sites, mark)) == sorted(park_articles)  # each stored article once
    (run,) = _runs(db_url, 1)
    assert run.source == "cnip-park" and run.new == 0
    assert run.stats.get("radar/updated") == 1 and run.stats.get("radar/recheck") == len(park_articles)
    assert run.stats.get("radar/not_modified") == len(park_articles) - 1
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        (revision,) = s.scalars(select(ArticleRevisionRow)).all()
        assert revision.article_id == hangzhou.id and "7369.0亿元" in revision.body
        assert revision.paragraphs_changed == 1 and revision.chars_added == revision.chars_removed == 1
        assert "1 paragraph changed" in revision.summary
        row = s.get(ArticleRow, hangzhou.id)
        assert row is not None and "8369.0亿元" in row.body and "7369.0亿元" not in row.body
        assert len(s.scalars(select(ArticleRow)).all()) == article_count
        # detection ran again: the new figure is an event of its own; the old one keeps the repost
        trade = {e.amount_text: {m.article_id for m in e.mentions}
                 for e in s.scalars(select(EventRow).where(EventRow.type == "trade")) if "杭州" in e.region}
        assert row.id in trade["8369.0亿元"] and row.id not in trade["7369.0亿元"]
        assert trade["7369.0亿元"]  # the news site's repost still states it
    engine.dispose()
