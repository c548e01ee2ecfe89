"""Digests against a real SMTP server: content, escaping, subscriptions, once-only delivery, the
outbox's retry with backoff, health alerts, dry runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from crawler.article import Article
from crawler.config.settings import load_settings
from crawler.config.sources import Config, parse_config
from crawler.digest.delivery import DeliveryResult, deliver
from crawler.digest.render import message_id, summary_line
from crawler.errors import DigestError
from crawler.events.model import Event
from storage import outbox, queries
from storage.db import open_database, transaction
from storage.events import record_events
from storage.models import CrawlRunRow, DigestEventRow, DigestRow, EventRow
from storage.readonly import run_readonly
from tests.conftest import MailSink, free_port, smtp_env
from tests.e2e import radar

NOW = datetime(2025, 7, 2, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in Asia/Shanghai


def _fill(factory: Any, extra: list[tuple[str, str, Event]] | None = None, at: datetime = NOW) -> None:
    cases = extra if extra is not None else [
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
                                                      published_at=at), source="park", fetched_at=at)
            record_events(s, stored.article_id, [event], published=at.date(), seen_at=at)


def _config(db_url: str, env: dict[str, str], subscriptions: list[dict[str, Any]] | None = None,
            **settings: Any) -> Config:
    data: dict[str, Any] = {"settings": {"database_url": db_url, **settings}}
    if subscriptions is not None:
        data["subscriptions"] = subscriptions
    return parse_config(data, env=env)


def _parts(message: Any) -> dict[str, str]:
    return {p.get_content_type(): p.get_payload(decode=True).decode("utf-8")
            for p in message.walk() if not p.is_multipart()}


def _only(results: list[DeliveryResult], status: str) -> list[DeliveryResult]:
    return [r for r in results if r.status == status]


def test_digest_content_and_once_only(db_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    config = _config(db_url, smtp_env(smtp_server))

    (preview,) = deliver(factory, config, dry_run=True, now=NOW)
    assert preview.status == "dry-run" and preview.event_count == 3 and preview.recipient == "analyst@example.org"
    assert smtp_server.messages == []
    with factory() as s:
        assert s.scalars(select(DigestRow)).all() == []  # a dry run writes nothing

    (result,) = deliver(factory, config, now=NOW)
    assert result.status == "sent" and result.key == "mail_to|analyst@example.org|daily:2025-07-02"
    assert len(smtp_server.messages) == 1
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "Policy Radar: 1 signing, 1 opening, 1 trade figure (广西、湖北、浙江)"
    assert msg["To"] == "analyst@example.org"
    assert msg["Message-ID"] == message_id(result.key)
    assert preview.message is not None and preview.message["Message-ID"] == msg["Message-ID"]  # dry run = real
    parts = _parts(msg)
    text, html = parts["text/plain"], parts["text/html"]
    assert text.index("Signings") < text.index("Openings") < text.index("Trade figures")
    assert "772.67亿元 · 97 projects · 2024年" in text
    assert "7369.0亿元 · +23.7% · 2021年" in text
    assert "Parties: 富乐德·长飞半导体" in text
    assert "http://park.test/3.html" in text and "2025-07-02" in text
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert 'href="http://park.test/3.html"' in html
    assert 'style="' in html and "<style" not in html  # inline styles: mail clients drop <style> blocks
    assert "Crawl health" not in text  # no sources configured: nothing to report on

    again = deliver(factory, config, now=NOW)
    assert [r.status for r in again] == ["exists"] and "no new events" in again[0].note
    assert len(smtp_server.messages) == 1
    engine.dispose()


def test_smtp_down_then_back_delivers_once_after_backoff(db_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    env = smtp_env(smtp_server)
    down = _config(db_url, {**env, "RADAR_SMTP_PORT": str(free_port()), "RADAR_SMTP_TIMEOUT": "2"},
                   digest_retry_base=60)
    (failed,) = deliver(factory, down, now=NOW)
    assert failed.status == "failed" and "SMTP" in failed.error
    with factory() as s:
        row = s.scalars(select(DigestRow)).one()
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
        assert row.last_error
    up = _config(db_url, env, digest_retry_base=60)
    # the backoff is honoured: 30 s later nothing is retried, and no second digest is written
    early = deliver(factory, up, now=NOW + timedelta(seconds=30))
    assert [r.status for r in early] == ["exists"] and smtp_server.messages == []
    # once it is over, the same row goes out, once
    late = deliver(factory, up, now=NOW + timedelta(seconds=61))
    assert [r.status for r in late] == ["sent", "exists"]
    assert deliver(factory, up, now=NOW + timedelta(seconds=120))[0].status == "exists"
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["X-Policy-Radar-Digest"] == row.idempotency_key
    with factory() as s:
        row = s.scalars(select(DigestRow)).one()
        assert (row.status, row.attempts, row.next_attempt_at) == ("sent", 2, None)
    engine.dispose()


def test_backoff_doubles_up_to_the_cap(sqlite_url: str) -> None:
    from storage.outbox import backoff

    assert [backoff(n, base=60, cap=3600).total_seconds() for n in (1, 2, 3, 7, 8)] == [60, 120, 240, 3600, 3600]


def test_subscriptions_choose_types_regions_keywords_and_frequency(db_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    subs = [
        {"name": "signings-now", "to": "a@example.org", "types": ["signing"], "frequency": "immediate"},
        {"name": "everything", "to": ["a@example.org", "b@example.org"], "frequency": "daily", "health": False},
        {"name": "hubei", "to": "c@example.org", "regions": ["湖北"], "health": False},
        {"name": "hangzhou", "to": "d@example.org", "keywords": ["杭州"], "health": False},
        {"name": "weekly", "to": "e@example.org", "frequency": "weekly", "health": False},
    ]
    config = _config(db_url, {k: v for k, v in smtp_env(smtp_server).items() if k != "RADAR_MAIL_TO"}, subs,
                     digest_weekday="thu")
    results = deliver(factory, config, now=NOW)
    got: dict[str, list[str]] = {}
    for m in smtp_server.messages:
        got.setdefault(m["To"], []).append(m["Subject"])
    # a@ gets the signing at once and the rest in its daily digest: each event once
    assert got["a@example.org"] == ["Policy Radar: 1 signing (湖北)",
                                    "Policy Radar: 1 opening, 1 trade figure (广西、浙江)"]
    assert got["b@example.org"] == ["Policy Radar: 1 signing, 1 opening, 1 trade figure (广西、湖北、浙江)"]
    assert got["c@example.org"] == ["Policy Radar: 1 signing (湖北)"]
    assert got["d@example.org"] == ["Policy Radar: 1 trade figure (浙江)"]
    # weekly digests are due from digest_weekday (Thursday) on; NOW is a Wednesday
    assert "e@example.org" not in got
    assert [r.status for r in results if r.subscription == "weekly"] == ["not-due"]
    assert {r.key for r in _only(results, "sent")} >= {"hangzhou|d@example.org|daily:2025-07-02",
                                                         "signings-now|a@example.org|immediate:2"}
    with factory() as s:
        claims = s.execute(select(DigestEventRow.recipient, DigestEventRow.event_id)).all()
        assert len(claims) == len(set(claims))  # each address got each event once

    # a new signing the same day: the immediate subscription sends it, the daily one waits for tomorrow
    _fill(factory, [("武汉签约", "http://park.test/4.html",
                     Event(type="signing", subtype="project", region="湖北省武汉市", evidence="武汉项目签约",
                           rule="signing-ceremony"))], at=NOW + timedelta(hours=1))
    later = deliver(factory, config, now=NOW + timedelta(hours=1))
    assert [(r.subscription, r.recipient) for r in _only(later, "sent")] == [("signings-now", "a@example.org")]
    waiting = [r for r in later if r.subscription == "everything" and r.recipient == "b@example.org"]
    assert waiting[0].status == "exists" and "1 new event(s) wait" in waiting[0].note
    tomorrow = deliver(factory, config, now=NOW + timedelta(days=1))
    # next day (a Thursday): b@ and c@ get the Wuhan signing, a@ had it already; e@'s weekly is due
    assert sorted((r.subscription, r.recipient) for r in _only(tomorrow, "sent")) == [
        ("everything", "b@example.org"), ("hubei", "c@example.org"), ("weekly", "e@example.org")]
    weekly = next(r for r in tomorrow if r.subscription == "weekly")
    assert weekly.key == "weekly|e@example.org|weekly:2025-W27" and weekly.event_count == 4
    engine.dispose()


def test_size_cap_says_how_many_more_and_the_sql_lists_them(sqlite_url: str, smtp_server: MailSink) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    config = _config(sqlite_url, smtp_env(smtp_server), digest_max_events=1)
    (preview,) = deliver(factory, config, dry_run=True, now=NOW)
    assert preview.message is not None
    text = _parts(preview.message)["text/plain"]
    assert "and 2 more" in text and "radar sql" in text
    sql = text.split('radar sql "', 1)[1].split('"\n', 1)[0]
    (sent,) = deliver(factory, config, now=NOW)
    assert sent.status == "sent"
    columns, rows = run_readonly(sqlite_url, sql, timezone="Asia/Shanghai")
    assert columns[:2] == ["type", "region"] and len(rows) == 3
    engine.dispose()


def _broken_gov(factory: Any) -> None:
    """Three failed crawls in a row of the hourly source ``broken-gov``."""
    with transaction(factory) as s:
        for i in range(3):
            s.add(CrawlRunRow(source="broken-gov", started_at=NOW - timedelta(hours=3 - i),
                              finished_at=NOW - timedelta(hours=3 - i), status="failed",
                              finish_reason="crashed: exit code 1", error="Traceback …\nOSError: boom"))


def test_health_alerts_go_into_the_daily_digest(sqlite_url: str, smtp_server: MailSink) -> None:
    """A source that keeps failing is reported in the digest (even with no new events), not by a
    mail of its own, and at most once a day."""
    engine, factory = open_database(sqlite_url)
    env = smtp_env(smtp_server)
    config = parse_config({"settings": {"database_url": sqlite_url}, "sources": [
        {"name": "broken-gov", "start_urls": ["http://gov.test/"], "allow": "/a/", "schedule": "every: 1h"}]},
        env=env)
    _broken_gov(factory)
    (result,) = deliver(factory, config, now=NOW)
    assert result.status == "sent"
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "Policy Radar: no new events; 1 source needs attention"
    text = _parts(msg)["text/plain"]
    assert "0 of 1 sources OK" in text and "broken-gov: failing" in text and "OSError: boom" in text
    assert deliver(factory, config, now=NOW + timedelta(hours=2))[0].status == "exists"
    assert len(smtp_server.messages) == 1
    engine.dispose()


def test_health_alerts_speak_the_digests_language(sqlite_url: str, smtp_server: MailSink) -> None:
    """A Chinese digest says its alerts in Chinese (the crash's own words kept, quoted); the
    English digest says them as ``radar status`` does."""
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    _broken_gov(factory)
    env = {k: v for k, v in smtp_env(smtp_server).items() if k != "RADAR_MAIL_TO"}
    config = parse_config({"settings": {"database_url": sqlite_url}, "sources": [
        {"name": "broken-gov", "start_urls": ["http://gov.test/"], "allow": "/a/", "schedule": "every: 1h"}],
        "subscriptions": [{"name": "zh", "to": ["zh@example.org"], "language": "zh"},
                          {"name": "en", "to": ["en@example.org"]}]}, env=env)
    assert sorted(r.status for r in deliver(factory, config, now=NOW)) == ["sent", "sent"]
    sent = {m["To"]: _parts(m) for m in smtp_server.messages}
    zh, en = sent["zh@example.org"], sent["en@example.org"]
    said = "连续3次抓取失败，最近一次出错：“crashed: exit code 1: OSError: boom”"
    assert f"! broken-gov: 连续失败 — {said}" in zh["text/plain"]
    assert f"连续失败</span> — {said}" in zh["text/html"]
    assert "crawls failed" not in zh["text/plain"] + zh["text/html"]
    line = "broken-gov: failing — the last 3 crawls failed; last: crashed: exit code 1: OSError: boom"
    assert f"! {line}" in en["text/plain"] and "连续" not in en["text/plain"]
    assert "failing</span> — the last 3 crawls failed; last: crashed: exit code 1: OSError: boom" in en["text/html"]
    engine.dispose()


def test_no_recipients_is_a_clear_error(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    with pytest.raises(DigestError, match="RADAR_MAIL_TO"):
        deliver(factory, Config(settings=load_settings({"database_url": sqlite_url}, env={}), sources={}), now=NOW)
    engine.dispose()


def test_dry_run_cli_shows_each_message_and_recipient(tmp_path: Any, smtp_server: MailSink) -> None:
    url = f"sqlite:///{tmp_path / 'radar.sqlite3'}"
    engine, factory = open_database(url)
    _fill(factory)
    engine.dispose()
    path = tmp_path / "radar.yaml"
    path.write_text(yaml.safe_dump({"settings": {"database_url": url}, "subscriptions": [
        {"name": "hubei", "to": ["c@example.org", "d@example.org"], "regions": ["湖北"]}]},
        allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in smtp_env(smtp_server).items() if k != "RADAR_MAIL_TO"}
    out = radar("--config", str(path), "digest", "--dry-run", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("=== would send to") == 2
    assert "=== would send to c@example.org (hubei)" in out.stdout and "To: d@example.org" in out.stdout
    assert out.stdout.count("富乐德·长飞半导体") >= 2 and "杭州" not in out.stdout
    assert smtp_server.messages == []
    html = radar("--config", str(path), "digest", "--dry-run", "--html", env=env)
    assert "&lt;script&gt;" in html.stdout and "<table" in html.stdout
    sent = radar("--config", str(path), "digest", env=env)
    assert sent.returncode == 0, sent.stderr
    assert sorted(m["To"] for m in smtp_server.messages) == ["c@example.org", "d@example.org"]


def test_upgrading_splits_old_claims_per_address(db_url: str) -> None:
    """Claims made before subscriptions (per recipient *list*) become per-address claims, so an
    upgrade mails nobody an event again."""
    from alembic import command
    from sqlalchemy import text

    from storage.db import _alembic_config, make_engine
    from tests.old_rows import OLD_TS, insert_old_article, insert_old_event

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0001")
    ts = OLD_TS
    with engine.begin() as c:
        insert_old_article(c)
        insert_old_event(c, 1, "signing")
        c.execute(text("INSERT INTO digests (id, idempotency_key, recipients, subject, text_body, html_body, status, "
                       "event_count, created_at, attempts, last_error) VALUES (1, 'old', 'a@x.org, b@x.org', 's', "
                       "'t', 'h', 'sent', 1, :ts, 1, '')"), {"ts": ts})
        c.execute(text("INSERT INTO digest_events (digest_id, event_id, recipients) VALUES (1, 1, 'a@x.org, b@x.org')"))
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as c:
        rows = c.execute(text("SELECT digest_id, event_id, recipient FROM digest_events ORDER BY recipient")).all()
        digest = c.execute(text("SELECT subscription, period FROM digests")).one()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 1, "a@x.org"), (1, 1, "b@x.org")]
    assert tuple(digest) == ("", "")
    _engine, factory = open_database(db_url)
    with factory() as s:
        from storage.outbox import unclaimed_events

        assert unclaimed_events(s, "a@x.org") == [] and unclaimed_events(s, "b@x.org") == []
        assert [v.event.id for v in unclaimed_events(s, "c@x.org")] == [1]
    _engine.dispose()


def test_subject_names_the_provinces_with_most_events_first() -> None:
    def view(kind: str, region: str) -> outbox.EventView:
        return outbox.EventView(EventRow(type=kind, region=region), "t", "http://x.test/", None, "s", 1)

    # found in this order: one in 湖北, then three in 江西, two in 浙江, one in 广西
    views = [view("signing", "湖北省武汉市"), view("opening", "江西省"), view("signing", "浙江省杭州市"),
             view("trade", "江西省南昌市"), view("opening", "广西壮族自治区"), view("opening", "浙江省"),
             view("signing", "江西省赣州市"), view("opening", "")]
    assert summary_line(views) == "3 signings, 4 openings, 1 trade figure (江西、浙江、湖北、广西)"
    # more than six provinces: the six with most events, then "…"
    many = [view("signing", p) for p in ("吉林省", "云南省", "湖南省", "湖北省", "浙江省", "广西壮族自治区", "海南省")]
    many += [view("opening", "海南省")]
    assert summary_line(many) == "7 signings, 1 opening (海南、吉林、云南、湖南、湖北、浙江…)"
