"""Atom feeds per subscription (``radar feed NAME``): parsed back with feedparser and checked
strictly, ids stable across runs and reposts, the subscription's filters and language."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import feedparser
from click.testing import CliRunner
from sqlalchemy import select

from crawler.article import Article
from crawler.cli import main
from crawler.digest.feed import ATOM, build_feed
from crawler.events.model import Event
from storage import queries
from storage.db import open_database, transaction
from storage.events import record_events
from storage.models import ArticleRow
from tests.test_digest import NOW, _config, _fill

A = f"{{{ATOM}}}"


def _feed(factory: Any, config: Any, name: str, now: Any = NOW) -> bytes:
    with factory() as session:
        return build_feed(session, config, name, now=now)


def _strict(document: bytes) -> ET.Element:
    """The feed, parsed by a strict XML parser, with what RFC 4287 requires of it checked."""
    root = ET.fromstring(document)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{tag}")) == 1, tag
    assert root.find(f"{A}author/{A}name") is not None  # entries have no author of their own
    for entry in root.findall(f"{A}entry"):
        for tag in ("id", "title", "updated", "content"):
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        assert entry.findtext(f"{A}id", "").startswith("urn:uuid:")
    return root


def _ids(document: bytes) -> list[str]:
    return [e.findtext(f"{A}id", "") for e in ET.fromstring(document).findall(f"{A}entry")]


def _repost(factory: Any, source: str = "jxnews", region: str = "广西壮族自治区南宁市",
            at: Any = NOW + timedelta(hours=2)) -> None:
    """The first event of :func:`_fill` reported again by another source, in other words."""
    event = Event(type="opening", subtype="groundbreaking", amount_text="772.67亿元", amount=772.67e8, currency="CNY",
                  amount_cny=772.67e8, project_count=97, region=region, period="2024年",
                  evidence="南宁97个重大项目集中开工，总投资772.67亿元", rule="opening-aggregate")
    with transaction(factory) as s:
        story = s.scalar(select(ArticleRow.story_id).where(ArticleRow.url == "http://park.test/1.html"))
        stored = queries.store_article(s, Article(url=f"http://{source}.test/repost.html", title="南宁集中开工 <转载>",
                                                  body=f"{source}讯 {event.evidence}", published_at=NOW),
                                       source=source, fetched_at=at)
        record_events(s, stored.article_id, [event], published=NOW.date(), seen_at=at,
                      story_id=story, new_article=True)


def test_feed_is_valid_atom_in_the_subscription_language(db_url: str) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    config = _config(db_url, {}, [{"name": "zh-all", "to": "a@example.org", "language": "zh"},
                                  {"name": "en-sign", "to": "b@example.org", "types": ["signing"]}])
    zh = _feed(factory, config, "zh-all")
    root = _strict(zh)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"
    parsed = feedparser.parse(zh)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and len(parsed.entries) == 3
    text = " ".join(e.title + e.summary for e in parsed.entries)
    assert "开工" in text and "772.67亿元" in text and "97 个项目" in text and "外贸" in text
    assert "projects" not in text and "Signings" not in text
    # page text stays inert: escaped in the HTML content, never markup
    signing = next(e for e in parsed.entries if "签约" in e.title)
    assert "<script>" not in signing.summary and "&lt;script&gt;" in signing.summary
    assert signing.link == "http://park.test/2.html"
    assert {t.term for e in parsed.entries for t in e.tags} == {"signing", "opening", "trade"}

    en = feedparser.parse(_feed(factory, config, "en-sign"))
    assert not en.bozo and en.feed.language == "en"
    assert [t.term for e in en.entries for t in e.tags] == ["signing"]
    assert "signed" in en.entries[0].title and "Parties" in en.entries[0].summary
    engine.dispose()


def test_ids_are_stable_across_runs_and_a_repost_adds_no_entry(db_url: str) -> None:
    engine, factory = open_database(db_url)
    _fill(factory)
    config = _config(db_url, {}, [{"name": "all", "to": "a@example.org"}])
    first = _feed(factory, config, "all")
    assert _feed(factory, config, "all") == first  # a re-run: the same document, byte for byte
    _repost(factory)  # the same event, same key, from a second source
    _repost(factory, source="hubei", region="广西壮族自治区")  # a third, crediting another region: its story decides
    after = _feed(factory, config, "all", now=NOW + timedelta(hours=3))
    _strict(after)
    assert sorted(_ids(after)) == sorted(_ids(first))
    parsed = feedparser.parse(after)
    opening = next(e for e in parsed.entries if "772.67" in e.title)
    related = sorted(link.href for link in opening.links if link.rel == "related")
    assert related == ["http://hubei.test/repost.html", "http://jxnews.test/repost.html"]
    assert "reported by 3 sources" in opening.summary
    assert opening.updated_parsed > feedparser.parse(first).entries[0].updated_parsed  # it moved to the top
    assert parsed.entries[0].id == opening.id
    engine.dispose()


def test_filters_window_and_retrospective_policy(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    old = NOW - timedelta(days=40)
    history = [(f"2022年政府工作报告 {i}", f"http://gov.test/r{i}.html",
                Event(type="signing", subtype="project", amount_text=f"{i}0亿元", amount=i * 1e9, currency="CNY",
                      amount_cny=i * 1e9, region="江西省", period="2021年", retrospective=True,
                      evidence=f"2021年签约项目{i}个，总额{i}0亿元", rule="signing-aggregate"))
               for i in range(1, 3)]
    _fill(factory)
    _fill(factory, history)
    _fill(factory, [("旧闻：赣州签约", "http://park.test/old.html",
                     Event(type="signing", subtype="project", region="江西省赣州市", parties=["旧公司"],
                           evidence="旧公司与赣州签约", rule="signing-ceremony"))], at=old)
    subs = [{"name": "news", "to": "a@example.org", "retrospective": "exclude"},
            {"name": "bg", "to": "a@example.org", "retrospective": "background", "types": ["signing"]},
            {"name": "big", "to": "a@example.org", "min_amount_cny": 5e10}]
    config = _config(sqlite_url, {}, subs)
    news = feedparser.parse(_feed(factory, config, "news"))
    assert len(news.entries) == 3 and not any("旧公司" in e.summary for e in news.entries)  # 40 days: out
    bg = feedparser.parse(_feed(factory, config, "bg"))
    titles = sorted(e.title for e in bg.entries)
    assert len(titles) == 3 and sum(t.startswith("Background: 2022年政府工作报告") for t in titles) == 2
    big = feedparser.parse(_feed(factory, config, "big"))
    assert sorted(e.title.split(" · ")[1] for e in big.entries) == ["started 772.67亿元", "trade figure 7369.0亿元"]
    small = _config(sqlite_url, {}, subs, feed_max_events=1, feed_days=50)
    assert len(feedparser.parse(_feed(factory, small, "news")).entries) == 1
    engine.dispose()


def test_radar_feed_prints_it_and_names_an_unknown_subscription(tmp_path: Any) -> None:
    db = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    engine, factory = open_database(db)
    _fill(factory, at=NOW.replace(year=2099))  # within the window, whenever the test runs
    engine.dispose()
    config = tmp_path / "radar.yaml"
    config.write_text(f"settings:\n  database_url: {db}\nsources: []\nsubscriptions:\n"
                      "  - {name: zh, to: a@example.org, language: zh}\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["--config", str(config), "feed", "zh"], env={"RADAR_MAIL_TO": ""})
    assert out.exit_code == 0, out.output
    assert len(feedparser.parse(out.stdout_bytes).entries) == 3
    bad = CliRunner().invoke(main, ["--config", str(config), "feed", "../etc/passwd"], env={"RADAR_MAIL_TO": ""})
    assert bad.exit_code == 1 and "no subscription named '../etc/passwd'" in bad.output
