"""Stories, the persisted near-duplicate index, revisions and validators, on SQLite and PostgreSQL.

Articles are built from the seed pages' real paragraphs (the park portal's items), reposted the way
portals repost: another 来源 line, a paragraph dropped, a note appended.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import func, inspect, select, text

from crawler.article import Article
from crawler.dedupe.neardup import JOIN_THRESHOLD, fingerprint
from crawler.events.model import Event
from crawler.ingest.ingestor import Ingestor
from crawler.replica.seeds import park_items
from storage import pages, queries, stories
from storage.db import _alembic_config, make_engine, migrate, open_database, transaction
from storage.events import record_events
from storage.models import (
    ArticleRevisionRow,
    ArticleRow,
    EventRow,
    NearBandRow,
    PageValidatorRow,
    StoryRow,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 7, 2, 9, 30, tzinfo=UTC)


def _item(prefix: str) -> tuple[str, tuple[str, ...]]:
    item = next(i for i in park_items() if i.title.startswith(prefix))
    return item.title, item.paragraphs


def _article(url: str, title: str, paragraphs: tuple[str, ...] | list[str], **kw: object) -> Article:
    return Article(url=url, title=title, body="\n".join(paragraphs),
                   published_at=datetime(2025, 7, 2, 10, 0, tzinfo=SH), **kw)  # type: ignore[arg-type]


def _store(factory: object, article: Article, source: str, at: datetime = NOW) -> queries.StoreOutcome:
    with transaction(factory) as s:  # type: ignore[arg-type]
        return queries.store_article(s, article, source=source, fetched_at=at)


def test_repost_joins_the_story_of_the_original(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    other_title, other = _item("富乐德·长飞半导体项目落户黄冈")
    original = _store(factory, _article("http://park.test/news/1.html", title, paras), "cnip-park")
    # the news site: its own 来源 line on top, the last paragraph dropped, the original headline noted
    repost_body = ["来源：产业园区网", *paras[:-1], f"（原标题：{title}）"]
    repost = _store(factory, _article("http://news.test/system/2.shtml", title[:10], repost_body), "jxnews",
                    NOW + timedelta(hours=3))
    stranger = _store(factory, _article("http://park.test/news/3.html", other_title, other), "cnip-park")

    assert original.story_match == "first" and stranger.story_match == "first"
    assert repost.status == "new" and repost.story_match == "near"
    assert repost.story_id == original.story_id != stranger.story_id
    assert repost.similarity is not None and JOIN_THRESHOLD <= repost.similarity < 1.0
    with factory() as s:
        story = s.get(StoryRow, original.story_id)
        assert story is not None
        assert story.article_id == original.article_id  # the first seen is canonical
        assert (story.article_count, story.source_count, story.sources) == (2, 2, ["cnip-park", "jxnews"])
        assert story.title == title
        assert story.last_seen_at == NOW + timedelta(hours=3)
        assert [a.id for a in stories.members(s, story.id)] == [original.article_id, repost.article_id]
        assert s.scalar(select(func.count()).select_from(StoryRow)) == 2
    engine.dispose()


def test_exact_copy_elsewhere_counts_as_a_source(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    first = _store(factory, _article("http://park.test/news/1.html", title, paras), "cnip-park")
    copy = _store(factory, _article("http://other.test/a.html", title, [p.replace("，", ", ") for p in paras]),
                  "other-site")
    assert (copy.status, copy.article_id, copy.story_id) == ("duplicate", first.article_id, first.story_id)
    with factory() as s:
        story = s.get(StoryRow, first.story_id)
        assert story is not None and (story.article_count, story.source_count) == (1, 2)
    engine.dispose()


def test_same_document_number_is_one_story(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    _t2, other = _item("富乐德·长飞半导体项目落户黄冈")
    city = _store(factory, _article("http://gov.test/zcwj/1.html", title, paras, doc_number="赣市发〔2022〕5号",
                                    issuer="中共赣州市委"), "ganzhou-gov")
    # a county portal posts the same document with its own page text and the number typed differently
    county = _store(factory, _article("http://county.test/xxgk/9.html", title, other,
                                      doc_number="赣市发[2022]05号"), "county-gov")
    assert county.story_match == "document" and county.story_id == city.story_id
    with factory() as s:
        row = s.get(ArticleRow, county.article_id)
        assert row is not None and row.doc_key == "赣市发〔2022〕5号"
    engine.dispose()


def test_index_lives_in_the_database(db_url: str) -> None:
    """A new process (new engine, new Ingestor) finds the story: nothing was kept in memory."""
    title, paras = _item("富乐德·长飞半导体项目落户黄冈")
    first = Ingestor.for_url(db_url)
    a = first.ingest(_article("http://park.test/news/1.html", title, paras), source="cnip-park", fetched_at=NOW)
    first.close()
    with make_engine(db_url).connect() as conn:
        bands = conn.execute(select(NearBandRow.band_key).where(NearBandRow.article_id == a.article_id)).scalars()
        assert sorted(bands) == sorted(fingerprint("\n".join(paras)).bands)
    second = Ingestor.for_url(db_url)
    edited = [p.replace("签约", "签约仪式", 1) for p in paras[:-1]] + ["（责任编辑：网络编辑）"]
    b = second.ingest(_article("http://news.test/2.shtml", title, edited), source="jxnews", fetched_at=NOW)
    second.close()
    assert (b.status, b.story_match, b.story_id) == ("new", "near", a.story_id)


def test_revision_keeps_the_old_text_and_reindexes(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    url = "http://park.test/news/1.html"
    first = _store(factory, _article(url, title, paras), "cnip-park")
    with factory() as s:
        before = s.get(ArticleRow, first.article_id)
        assert before is not None
        snapshot = {c.name: getattr(before, c.name) for c in ArticleRow.__table__.columns}
    # unchanged page: nothing but the check time (and validators) moves
    with transaction(factory) as s:
        same = queries.store_article(s, _article(url, title, paras), source="cnip-park",
                                     fetched_at=NOW + timedelta(days=1),
                                     validators=queries.Validators('"abc"', "Wed, 02 Jul 2025 03:48:00 GMT"))
    assert same.status == "unchanged"
    with factory() as s:
        after = s.get(ArticleRow, first.article_id)
        assert after is not None
        changed = {c.name for c in ArticleRow.__table__.columns if getattr(after, c.name) != snapshot[c.name]}
        assert changed == {"checked_at", "etag", "last_modified"}
        assert s.scalar(select(func.count()).select_from(ArticleRevisionRow)) == 0
    # the page is revised: one paragraph corrected, one added, the headline changed
    revised = [paras[0].replace("7369.0", "7369.1"), *paras[1:], "（来源：杭州海关）"]
    later = NOW + timedelta(days=2)
    with transaction(factory) as s:
        outcome = queries.store_article(s, _article(url, title + "（更新）", revised), source="cnip-park",
                                        fetched_at=later)
    assert outcome.status == "updated" and outcome.revision_id is not None
    with factory() as s:
        rev = s.get(ArticleRevisionRow, outcome.revision_id)
        assert rev is not None
        assert rev.body == "\n".join(paras) and rev.title == title
        assert rev.fetched_at == NOW and rev.replaced_at == later
        assert (rev.paragraphs_changed, rev.paragraphs_added, rev.paragraphs_removed) == (1, 1, 0)
        assert rev.fields == ["title"]
        assert "1 paragraph changed" in rev.summary and "title" in rev.summary
        assert {"op": "changed", "old": paras[0], "new": revised[0]} in rev.changes
        row = s.get(ArticleRow, first.article_id)
        assert row is not None and row.body.endswith("（来源：杭州海关）") and row.fetched_at == later
        bands = s.scalars(select(NearBandRow.band_key).where(NearBandRow.article_id == row.id)).all()
        assert sorted(bands) == sorted(fingerprint(row.body).bands)
    engine.dispose()


def test_revision_reruns_detection_through_the_ingestor(db_url: str) -> None:
    title, paras = _item("杭州进出口规模突破7000亿元")
    ingestor = Ingestor.for_url(db_url)
    url = "http://park.test/news/1.html"
    first = ingestor.ingest(_article(url, title, paras), source="cnip-park", fetched_at=NOW)
    assert first.new_events >= 1
    revised = [p.replace("7369.0亿元", "7400.0亿元") for p in paras]
    second = ingestor.ingest(_article(url, title, revised), source="cnip-park", fetched_at=NOW + timedelta(days=1))
    assert second.status == "updated" and second.revision_id is not None and second.new_events >= 1
    with ingestor.factory() as s:
        amounts = {e.amount_text for e in s.scalars(select(EventRow))
                   if any(m.article_id == first.article_id for m in e.mentions)}
        assert "7400.0亿元" in amounts and "7369.0亿元" not in amounts  # the old figure's mention is gone
    ingestor.close()


def test_a_story_reports_an_event_once_even_when_keys_differ(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    a = _store(factory, _article("http://park.test/1.html", title, paras), "cnip-park")
    b = _store(factory, _article("http://news.test/2.shtml", title, ["来源：产业园区网", *paras[:-1]]), "jxnews")
    assert a.story_id == b.story_id

    def trade(region: str) -> Event:
        return Event(type="trade", subtype="total", amount_text="7369.0亿元", amount=7369.0e8, currency="CNY",
                     amount_cny=7369.0e8, growth_pct=23.7, period="2021年", region=region,
                     evidence="进出口总值达7369.0亿元", start=0, end=10, confidence=0.9, rule="trade-total")

    with transaction(factory) as s:
        record_events(s, a.article_id, [trade("浙江省杭州市")], published=NOW.date(), seen_at=NOW)
        # the repost's page credits another region, so the key differs; the story links them
        created = record_events(s, b.article_id, [trade("江西省")], published=NOW.date(), seen_at=NOW,
                                        story_id=b.story_id)
    assert created == 0
    with factory() as s:
        event = s.scalars(select(EventRow)).one()
        assert event.region == "浙江省杭州市"  # the first report's figures stay
        assert sorted(m.article_id for m in event.mentions) == sorted([a.article_id, b.article_id])
    with transaction(factory) as s:  # outside a story the differing key is another event
        assert record_events(s, b.article_id, [trade("江西省")], published=NOW.date(), seen_at=NOW) == 1
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(EventRow)) == 2
    engine.dispose()


def test_recheck_selection_touch_and_page_validators(db_url: str) -> None:
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    _t2, other = _item("富乐德·长飞半导体项目落户黄冈")
    now = datetime(2025, 7, 10, 12, 0, tzinfo=UTC)
    recent = _article("http://park.test/new.html", title, paras)
    old = _article("http://park.test/old.html", title, other)
    old.published_at = now - timedelta(days=30)
    with transaction(factory) as s:
        queries.store_article(s, recent, source="cnip-park", fetched_at=now - timedelta(days=2),
                              validators=queries.Validators('"v1"', ""))
        queries.store_article(s, old, source="cnip-park", fetched_at=now - timedelta(days=2))
    with factory() as s:
        due = pages.due_for_recheck(s, "cnip-park", now, days=14)
        assert [(d.url, d.etag) for d in due] == [("http://park.test/new.html", '"v1"')]
        assert pages.due_for_recheck(s, "jxnews", now, days=14) == []
        assert len(pages.due_for_recheck(s, "cnip-park", now, days=60)) == 2
    with transaction(factory) as s:
        assert queries.touch_article(s, "http://PARK.test/new.html#x", now, queries.Validators('"v2"', ""))
        assert not queries.touch_article(s, "http://park.test/never.html", now)
    with factory() as s:
        row = s.scalars(select(ArticleRow).where(ArticleRow.url == "http://park.test/new.html")).one()
        assert (row.checked_at, row.etag, row.fetched_at) == (now, '"v2"', now - timedelta(days=2))
    with transaction(factory) as s:
        pages.save_page_validators(s, "http://park.test/news/list_1.html", "cnip-park",
                                     queries.Validators('"L1"', "Wed, 02 Jul 2025 03:48:00 GMT"), now)
    with factory() as s:
        got = pages.page_validators(s, ["http://park.test/news/list_1.html", "http://park.test/news/list_2.html"])
        assert got == {"http://park.test/news/list_1.html": queries.Validators('"L1"', "Wed, 02 Jul 2025 03:48:00 GMT")}
        assert s.scalar(select(func.count()).select_from(PageValidatorRow)) == 1
    engine.dispose()


def test_upgrade_gives_existing_articles_stories_and_index(db_url: str) -> None:
    """A database created before issue 5 (schema 0001) keeps its articles: each opens a story and
    enters the near-duplicate index, so a repost crawled after the upgrade still joins it."""
    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0001")
    title, paras = _item("杭州进出口规模突破7000亿元")
    stamp = "2025-07-02 17:30:00+08:00" if engine.dialect.name == "sqlite" else NOW
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO articles (url, source, title, fetched_at, checked_at, source_name, author, doc_number, "
            "issuer, index_no, category, region, body, content_hash, encoding, garbled_score, epaper_page_name, "
            "provenance) "
            "VALUES ('http://park.test/1.html', 'cnip-park', :title, :at, :at, '', '', '', '', '', '', '', :body, "
            "'x', 'utf-8', 0, '', '{}')"), {"title": title, "body": "\n".join(paras), "at": stamp})
        conn.execute(text("INSERT INTO article_urls (url, article_id, source, relation, first_seen_at) "
                          "SELECT url, id, source, 'canonical', fetched_at FROM articles"))
        conn.execute(text("INSERT INTO attachments (article_id, name, url, sha256, content_type, size, text) "
                          "SELECT id, 'a.docx', 'http://park.test/a.docx', '', '', 0, '' FROM articles"))
    migrate(engine)
    factory = open_database(db_url)[1]
    with factory() as s:
        row = s.scalars(select(ArticleRow)).one()
        assert row.story_id is not None and row.story_match == "first"
        assert len(row.attachments) == 1  # the upgrade did not rebuild (and so empty) child tables
        assert s.scalar(select(func.count()).select_from(NearBandRow)) == len(fingerprint(row.body).bands)
    assert inspect(engine).get_foreign_keys("near_bands") == []  # 0004: no per-row key check
    repost = _store(factory, _article("http://news.test/2.shtml", title, ["来源：产业园区网", *paras[:-1]]), "jxnews")
    assert repost.story_match == "near" and repost.story_id == row.story_id
    with factory() as s:
        story = s.get(StoryRow, repost.story_id)
        assert story is not None and story.source_count == 2
        other_title, other = _item("富乐德·长飞半导体项目落户黄冈")
        new_story = _store(factory, _article("http://park.test/9.html", other_title, other), "cnip-park")
        assert new_story.story_id is not None and new_story.story_id > story.id  # the id sequence moved on
    engine.dispose()


def test_index_rows_survive_the_foreign_key_migration_both_ways(db_url: str) -> None:
    """Migration 0004 (near_bands without a foreign key) and its downgrade keep every index row."""
    engine, factory = open_database(db_url)
    title, paras = _item("杭州进出口规模突破7000亿元")
    stored = _store(factory, _article("http://park.test/1.html", title, paras), "cnip-park")
    rows = len(fingerprint("\n".join(paras)).bands)
    config = _alembic_config(engine)
    command.downgrade(config, "0003")
    inspector = inspect(engine)
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("near_bands")] == ["articles"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM near_bands WHERE article_id = :a"),
                           {"a": stored.article_id}) == rows
    command.upgrade(config, "head")
    assert inspect(engine).get_foreign_keys("near_bands") == []
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM near_bands WHERE article_id = :a"),
                           {"a": stored.article_id}) == rows
    repost = _store(factory, _article("http://news.test/2.shtml", title, ["来源：产业园区网", *paras[:-1]]), "jxnews")
    assert repost.story_match == "near" and repost.story_id == stored.story_id
    engine.dispose()


def test_a_batch_stores_each_article_whole_or_not_at_all(db_url: str) -> None:
    """Articles stored together in one transaction: one that fails costs only itself."""
    from crawler.ingest.ingestor import Pending

    title, paras = _item("杭州进出口规模突破7000亿元")
    other_title, other = _item("富乐德·长飞半导体项目落户黄冈")
    good = _article("http://park.test/1.html", title, paras)
    bad = _article("http://park.test/2.html", other_title, other)
    bad.published_at = datetime(2025, 7, 2, 10, 0)  # naive: refused by the database layer
    repost = _article("http://news.test/3.shtml", title, ["来源：产业园区网", *paras[:-1]])
    ingestor = Ingestor.for_url(db_url)
    results = ingestor.ingest_many([Pending(a, "cnip-park", NOW) for a in (good, bad, repost)])
    first, failed, third = results
    assert isinstance(failed, Exception) and "timezone" in str(failed)
    assert not isinstance(first, Exception) and not isinstance(third, Exception)
    assert (first.status, third.status, third.story_match) == ("new", "new", "near")
    assert third.story_id == first.story_id and first.new_events >= 1
    with ingestor.factory() as s:
        assert sorted(a.url for a in s.scalars(select(ArticleRow))) == ["http://news.test/3.shtml",
                                                                        "http://park.test/1.html"]
        assert s.scalar(select(func.count()).select_from(NearBandRow)) == 2 * len(fingerprint(good.body).bands)
    assert ingestor.ingest_many([]) == []
    ingestor.close()


def test_one_batch_stores_as_one_by_one_would(db_url: str) -> None:
    """A batch mixing every case — a revision, an original and its repost, an exact copy, the
    same URL twice, two postings of one document, an e-paper story with a continuation page, a
    stranger — gets the outcomes storing the articles one at a time in that order gives."""
    engine, factory = open_database(db_url)
    a_title, a = _item("杭州进出口规模突破7000亿元")
    b_title, b = _item("富乐德·长飞半导体项目落户黄冈")
    c_title, c = _item("南宁市集中开工97个重大项目")
    d_title, d = _item("广西精准施策优服务")
    _, e = _item("曲靖举行重点项目集中开工仪式")
    f_title, f = _item("一季度福建省外贸进出口两位数增长")
    doc = {"doc_number": "赣府发〔2025〕3号", "issuer": "江西省人民政府"}
    before = _store(factory, _article("http://park.test/c.html", c_title, c), "cnip-park", NOW - timedelta(days=1))
    later = NOW + timedelta(hours=1)
    batch = [
        queries.ToStore(_article("http://park.test/c.html", c_title, [*c, "（补充）新增一段说明。"]), "cnip-park", NOW),
        queries.ToStore(_article("http://park.test/a.html", a_title, a), "cnip-park", NOW),
        queries.ToStore(_article("http://news.test/a.shtml", a_title, ["来源：产业园区网", *a[:-1]]), "jxnews", later),
        queries.ToStore(_article("http://mirror.test/a.html", a_title, a), "mirror", later),
        queries.ToStore(_article("http://park.test/a.html?utm_source=x", a_title, a), "cnip-park", later),
        queries.ToStore(_article("http://gov.test/d.html", d_title, d, **doc), "gov", NOW),
        queries.ToStore(_article("http://city.test/d.html", d_title, e, **doc), "city", NOW),
        queries.ToStore(_article("http://paper.test/f1.html", f_title, f, part_urls=["http://paper.test/f2.html"]),
                        "paper", NOW),
        queries.ToStore(_article("http://park.test/b.html", b_title, b), "cnip-park", NOW),
    ]
    with transaction(factory) as s:
        out = queries.store_articles(s, batch)
    assert [(o.status, o.story_match) for o in out] == [
        ("updated", ""), ("new", "first"), ("new", "near"), ("duplicate", ""), ("unchanged", ""),
        ("new", "first"), ("new", "document"), ("new", "first"), ("new", "first")]
    assert out[0].article_id == before.article_id and out[0].story_id == before.story_id
    assert out[2].story_id == out[3].story_id == out[4].story_id == out[1].story_id
    assert out[3].article_id == out[4].article_id == out[1].article_id
    assert out[6].story_id == out[5].story_id
    stories_seen = {o.story_id for o in out}
    assert len(stories_seen) == 5  # c, a, d, f, b
    with factory() as s:
        story_a = s.get(StoryRow, out[1].story_id)
        assert story_a is not None
        assert (story_a.article_id, story_a.article_count, story_a.source_count, story_a.sources) == (
            out[1].article_id, 2, 3, ["cnip-park", "jxnews", "mirror"])
        assert story_a.last_seen_at == later
        assert (story_a.title, story_a.first_seen_at) == (a_title, NOW)
        story_b = s.get(StoryRow, out[8].story_id)
        assert story_b is not None and (story_b.title, story_b.article_id, story_b.sources) == (
            b_title, out[8].article_id, ["cnip-park"])
        story_d = s.get(StoryRow, out[5].story_id)
        assert story_d is not None and (story_d.article_count, story_d.sources) == (2, ["city", "gov"])
        relations = dict(s.execute(text("SELECT url, relation FROM article_urls")).all())
        assert relations["http://paper.test/f2.html"] == "part"
        assert relations["http://mirror.test/a.html"] == "duplicate"
        new_ids = [o.article_id for o in out if o.status in ("new", "updated")]
        expected_rows = sum(len(fingerprint(s.get(ArticleRow, i).body).bands) for i in new_ids)  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(NearBandRow)) == expected_rows
        assert s.scalar(select(func.count()).select_from(ArticleRevisionRow)) == 1
    with transaction(factory) as s:  # the same batch again: nothing new, nothing changed
        again = queries.store_articles(s, batch)
    assert [o.status for o in again] == ["unchanged"] * len(batch)
    assert [o.article_id for o in again] == [o.article_id for o in out[:3]] + [out[1].article_id] * 2 + [
        o.article_id for o in out[5:]]
    engine.dispose()


def test_reposts_stored_at_the_same_moment_make_one_story(db_url: str) -> None:
    """Two crawl processes storing an original and its repost at once: the second waits for
    the first's story assignment (or, on SQLite, is retried after it) and joins its story."""
    import threading

    from crawler.ingest.ingestor import Pending

    title, paras = _item("杭州进出口规模突破7000亿元")
    original = _article("http://park.test/news/1.html", title, paras)
    repost = _article("http://news.test/2.shtml", title, ["来源：产业园区网", *paras[:-1]])
    first, second = Ingestor.for_url(db_url), Ingestor.for_url(db_url)
    holding, started = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def store_original() -> None:
        with transaction(first.factory) as s:
            outcome["original"] = queries.store_articles(s, [queries.ToStore(original, "cnip-park", NOW)])[0]
            holding.set()  # story assigned, transaction still open
            started.wait(5)
            time.sleep(0.3)  # let the repost's transaction run into it

    def store_repost() -> None:
        holding.wait(5)
        started.set()
        outcome["repost"] = second.ingest_many([Pending(repost, "jxnews", NOW)])[0]

    threads = [threading.Thread(target=store_original), threading.Thread(target=store_repost)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a, b = outcome["original"], outcome["repost"]
    assert isinstance(a, queries.StoreOutcome) and not isinstance(b, Exception), b
    assert (b.status, b.story_match, b.story_id) == ("new", "near", a.story_id)  # type: ignore[union-attr]
    with first.factory() as s:
        story = s.get(StoryRow, a.story_id)
        assert story is not None and (story.article_count, story.source_count) == (2, 2)
    first.close()
    second.close()
