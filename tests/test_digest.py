"""Digests against a real SMTP server: content, escaping, once-only delivery, retry after failure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crawler.article import Article
from crawler.config import load_settings
from crawler.digest import deliver
from crawler.signals.model import Event
from storage import queries
from storage.db import open_database, transaction
from storage.models import DigestRow
from tests.conftest import MailSink, free_port, smtp_env

NOW = datetime(2025, 7, 2, 1, 0, tzinfo=UTC)


def _fill(factory: Any) -> None:
    cases = [
        ("南宁市集中开工97个重大项目 总投资772.67亿元", "http://park.test/1.html",
         Event(type="opening", subtype="groundbreaking", amount_text="772.67亿元", amount=772.67e8, currency="CNY",
               amount_cny=772.67e8, project_count=97, region="广西壮族自治区南宁市", period="2024年",
               evidence="97个项目同步启动建设，总投资772.67亿元", rule="opening-aggregate")),
        ("富乐德·长飞半导体项目落户黄冈 <script>alert(1)</script>", "http://park.test/2.html",
         Event(type="signing", subtype="project", region="湖北省黄冈市", parties=["富乐德·长飞半导体"],
               evidence="富乐德·长飞半导体与黄冈产业园项目签约仪式在黄冈举行 <b>x</b>", rule="signing-ceremony")),
        ("杭州进出口规模突破7000亿元", "http://park.test/3.html",
         Event(type="trade", subtype="total", amount_text="7369.0亿元", amount=7369.0e8, currency="CNY",
               amount_cny=7369.0e8, growth_pct=23.7, region="浙江省杭州市", period="2021年",
               evidence="进出口总值达7369.0亿元，同比增长23.7%", rule="trade-total")),
    ]
    with transaction(factory) as s:
        for title, url, event in cases:
            stored = queries.store_article(s, Article(url=url, title=title, body=event.evidence,
                                                      published_at=NOW), source="park", fetched_at=NOW)
            queries.record_events(s, stored.article_id, [event], published=NOW.date(), seen_at=NOW)


def _parts(message: Any) -> dict[str, str]:
    return {p.get_content_type(): p.get_payload(decode=True).decode("utf-8")
            for p in message.walk() if not p.is_multipart()}


def test_digest_content_and_once_only(db_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    settings = load_settings(env=smtp_env(smtp_server))

    preview = deliver(factory, settings, dry_run=True, now=NOW)
    assert preview.status == "dry-run" and preview.event_count == 3
    assert smtp_server.messages == []
    with factory() as s:
        assert s.scalars(select(DigestRow)).all() == []  # a dry run writes nothing

    result = deliver(factory, settings, now=NOW)
    assert result.status == "sent"
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "Policy Radar: 1 signing, 1 opening, 1 trade figure (广西、湖北、浙江)"
    parts = _parts(msg)
    text, html = parts["text/plain"], parts["text/html"]
    assert text.index("Signings") < text.index("Openings") < text.index("Trade figures")
    assert "772.67亿元 · 97 projects · 2024年" in text
    assert "7369.0亿元 · +23.7% · 2021年" in text
    assert "http://park.test/3.html" in text and "2025-07-02" in text
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'style="' in html  # inline styles: mail clients drop <style> blocks

    assert deliver(factory, settings, now=NOW).status == "nothing"
    assert len(smtp_server.messages) == 1
    engine.dispose()


def test_smtp_down_then_back_delivers_once(db_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    down = load_settings(env={**smtp_env(smtp_server), "RADAR_SMTP_PORT": str(free_port()),
                              "RADAR_SMTP_TIMEOUT": "2"})
    failed = deliver(factory, down, now=NOW)
    assert failed.status == "failed" and "SMTP" in failed.error
    with factory() as s:
        row = s.scalars(select(DigestRow)).one()
        assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    up = load_settings(env=smtp_env(smtp_server))
    assert deliver(factory, up, now=NOW).status == "sent"
    assert deliver(factory, up, now=NOW).status == "nothing"
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["X-Policy-Radar-Digest"] == row.idempotency_key
    engine.dispose()


def test_size_cap_says_how_many_more(sqlite_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    settings = load_settings(env={**smtp_env(smtp_server), "RADAR_DIGEST_MAX_EVENTS": "1"})
    preview = deliver(factory, settings, dry_run=True, now=NOW)
    assert preview.message is not None
    text = _parts(preview.message)["text/plain"]
    assert "and 2 more" in text and "radar sql" in text
    engine.dispose()


def test_no_recipients_is_a_clear_error(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    from crawler.errors import DigestError

    with pytest.raises(DigestError, match="RADAR_MAIL_TO"):
        deliver(factory, load_settings(env={}), now=NOW)
    engine.dispose()
