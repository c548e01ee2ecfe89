"""Storage on SQLite and PostgreSQL alike: migrations, exact dedupe, events with mentions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crawler.article import Article, Attachment
from crawler.events.model import Event
from storage import queries
from storage.db import open_database, transaction
from storage.events import record_events
from storage.models import ArticleRow, ArticleUrlRow, EventMentionRow, EventRow

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 7, 2, 9, 30, tzinfo=UTC)
BODY = "2021年，杭州外贸发展实现历史性跨越，进出口总值达7369.0亿元，同比增长23.7%。\n其中出口4647.0亿元。"


def _article(url: str, body: str = BODY, **kw: object) -> Article:
    return Article(url=url, title="杭州进出口规模突破7000亿元", body=body,
                   published_at=datetime(2025, 7, 2, 10, 0, tzinfo=SH), **kw)  # type: ignore[arg-type]


def _trade_event() -> Event:
    return Event(type="trade", subtype="total", amount_text="7369.0亿元", amount=7369.0e8, currency="CNY",
                 amount_cny=7369.0e8, growth_pct=23.7, period="2021年", region="浙江省杭州市",
                 evidence="进出口总值达7369.0亿元，同比增长23.7%", start=14, end=40, confidence=0.9, rule="trade-total")


def test_store_dedupe_and_revision(db_url: str) -> None:
    engine, factory = open_database(db_url)
    with transaction(factory) as s:
        first = queries.store_article(s, _article("http://park.test/news/1.html",
                                                  attachments=[Attachment("表.docx", "http://park.test/1.docx",
                                                                          "ab" * 32, "序号\t工作任务")]),
                                      source="park", fetched_at=NOW)
    assert first.status == "new"
    with transaction(factory) as s:
        # same page under a tracking URL: unchanged
        again = queries.store_article(s, _article("http://PARK.test/news/1.html?utm_source=x#a"),
                                      source="park", fetched_at=NOW + timedelta(hours=1))
        # same text, other site, different spacing and punctuation: exact duplicate
        dup = queries.store_article(s, _article("http://news.test/a.shtml", BODY.replace("，", ", ")),
                                    source="news", fetched_at=NOW)
    assert (again.status, again.article_id) == ("unchanged", first.article_id)
    assert (dup.status, dup.article_id) == ("duplicate", first.article_id)
    with transaction(factory) as s:
        revised = queries.store_article(s, _article("http://park.test/news/1.html", BODY + "\n补充一段。"),
                                        source="park", fetched_at=NOW + timedelta(days=1))
        assert revised.status == "updated"
        assert queries.known_urls(s, ["http://news.test/a.shtml", "http://park.test/news/1.html",
                                      "http://park.test/news/2.html"]) == {
            "http://news.test/a.shtml", "http://park.test/news/1.html"}
    with factory() as s:
        row = s.scalars(select(ArticleRow)).one()
        assert row.body.endswith("补充一段。")
        assert row.published_at == datetime(2025, 7, 2, 10, 0, tzinfo=SH)
        assert row.checked_at == NOW + timedelta(days=1)
        assert [a.name for a in row.attachments] == []  # the revision carried no attachment
        assert s.scalar(select(func.count()).select_from(ArticleUrlRow)) == 2
    engine.dispose()


def test_naive_timestamps_are_refused(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    with pytest.raises(Exception, match="timezone-aware"), transaction(factory) as s:
        queries.store_article(s, _article("http://x.test/1"), source="x", fetched_at=datetime(2025, 1, 1))
    engine.dispose()


def test_one_event_many_mentions(db_url: str) -> None:
    engine, factory = open_database(db_url)
    with transaction(factory) as s:
        a = queries.store_article(s, _article("http://park.test/1.html"), source="park", fetched_at=NOW)
        b = queries.store_article(s, _article("http://news.test/2.shtml", BODY + "（来源：产业园区网）"),
                                  source="news", fetched_at=NOW)
        created_a = record_events(s, a.article_id, [_trade_event()], published=NOW.date(), seen_at=NOW)
        created_b = record_events(s, b.article_id, [_trade_event()], published=NOW.date(), seen_at=NOW)
    assert (created_a, created_b) == (1, 0)
    with factory() as s:
        event = s.scalars(select(EventRow)).one()
        assert event.article_id == a.article_id
        assert event.amount_cny == pytest.approx(7369.0e8)
        assert sorted(m.article_id for m in event.mentions) == sorted([a.article_id, b.article_id])
    with transaction(factory) as s:  # the page is revised and no longer states the figure
        record_events(s, b.article_id, [], published=NOW.date(), seen_at=NOW)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(EventMentionRow)) == 1
    engine.dispose()


def test_migrations_are_idempotent(db_url: str) -> None:
    engine, _ = open_database(db_url)
    engine.dispose()
    engine, factory = open_database(db_url)  # second run: already at head, nothing to do
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(ArticleRow)) == 0
    engine.dispose()


def test_upgrading_gives_stored_events_their_stage(db_url: str) -> None:
    """Events stored before stages existed get theirs from the subtype, and count as news."""
    from alembic import command

    from storage.db import _alembic_config, make_engine
    from tests.old_rows import insert_old_article, insert_old_event

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0005")
    with engine.begin() as c:
        insert_old_article(c)
        for n, (etype, subtype) in enumerate([("opening", "groundbreaking"), ("signing", "aggregate"),
                                             ("trade", "total")], start=1):
            insert_old_event(c, n, etype, subtype)
    command.upgrade(_alembic_config(engine), "head")
    engine.dispose()
    engine, factory = open_database(db_url)
    with factory() as s:
        rows = s.scalars(select(EventRow).order_by(EventRow.id)).all()
        assert [(r.stage, r.retrospective, r.details) for r in rows] == [
            ("started", False, []), ("signed", False, []), ("", False, [])]
    engine.dispose()
