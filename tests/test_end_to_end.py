"""The spine, end to end over real HTTP: replica sites → crawl → SQL → events → digest.

Runs on SQLite and on PostgreSQL. Crawls run as child processes, as the daemon runs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import open_database
from storage.models import ArticleRow, ArticleUrlRow, AttachmentRow, CrawlRunRow, EventRow
from tests.conftest import MailSink, smtp_env
from tests.e2e import radar, write_config

pytestmark = pytest.mark.slow

BOILERPLATE = ["400-162-2002", "投稿须知", "投稿提示", "ICP备", "公安备案", "当前位置", "网站标识码",
               "上一篇", "下一篇", "相关新闻", "相关链接", "联系我们", "企业入驻"]


def _events(db_url: str) -> list[tuple[EventRow, ArticleRow]]:
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        rows = s.execute(select(EventRow, ArticleRow).join(ArticleRow, ArticleRow.id == EventRow.article_id)).all()
        out = [(e, a) for e, a in rows]
    engine.dispose()
    return out


def _find(events: list[tuple[EventRow, ArticleRow]], kind: str, amount: float) -> EventRow:
    matches = [e for e, _ in events if e.type == kind and e.amount_cny is not None
               and abs(e.amount_cny - amount) < 1]
    assert matches, f"no {kind} event of {amount:.0f} yuan among " + repr(
        [(e.type, e.amount_text, e.region) for e, _ in events])
    return matches[0]


def test_crawl_store_detect_and_mail(replica: Any, db_url: str, tmp_path: Path, smtp_server: MailSink) -> None:
    config = write_config(replica.urls, db_url, tmp_path)
    first = radar("--config", str(config), "crawl")
    assert first.returncode == 0, first.stderr + first.stdout
    if db_url.startswith("sqlite"):  # the crawl closed its connections: the file holds all it wrote
        database = Path(db_url.removeprefix("sqlite:///"))
        assert database.exists() and not Path(f"{database}-wal").exists()

    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        articles = s.scalars(select(ArticleRow)).all()
        by_source: dict[str, int] = {}
        for a in articles:
            by_source[a.source] = by_source.get(a.source, 0) + 1
        attachments = s.scalars(select(AttachmentRow)).all()
        runs = s.scalars(select(CrawlRunRow)).all()
    engine.dispose()
    assert set(by_source) == {"ganzhou-gov", "jxnews", "cnip-park", "jxdaily-epaper"}, by_source
    assert by_source["cnip-park"] >= 10  # every item of the park listing, reports included
    assert all(r.status == "finished" and r.finish_reason == "finished" for r in runs)
    assert sum(r.new for r in runs) == len(articles)

    for article in articles:
        assert article.body.strip(), article.url
        assert article.published_at is not None, article.url
        for phrase in BOILERPLATE:
            assert phrase not in article.body, (phrase, article.url)
    # the e-paper's two continued stories are stored once each, their page-3 parts as known URLs
    joined = [a for a in articles if a.source == "jxdaily-epaper" and a.epaper_page == 1]
    assert len(joined) == 2 and all("上接" not in a.body and "下转" not in a.body for a in joined)
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        parts = s.scalars(select(ArticleUrlRow).where(ArticleUrlRow.relation == "part")).all()
    engine.dispose()
    assert sorted(p.url.rsplit("/", 1)[1] for p in parts) == ["content_3_2.htm", "content_3_3.htm"]
    gbk_doc = [a for a in articles if a.doc_number == "赣市发〔2022〕5号"]
    assert len(gbk_doc) == 1 and "数字经济" in gbk_doc[0].title
    assert any("重点任务清单责任分工表" in a.name or "序号" in a.text for a in attachments)

    events = _events(db_url)
    nanning = _find(events, "opening", 772.67e8)
    assert nanning.project_count == 97 and "南宁" in nanning.region
    signing = [e for e, a in events if e.type == "signing" and "黄冈" in e.region]
    assert signing, "the 富乐德·长飞 signing in 黄冈 was not found"
    hangzhou = _find(events, "trade", 7369.0e8)
    assert hangzhou.growth_pct == pytest.approx(23.7) and "杭州" in hangzhou.region
    fujian = _find(events, "trade", 4330.8e8)
    assert fujian.growth_pct == pytest.approx(12.1) and "福建" in fujian.region
    assert not [a.title for e, a in events if "北方稀土" in a.title]

    # the news site reposts two park stories: each real-world event is one row, two mentions
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        for kind, place in (("trade", "杭州"), ("signing", "黄冈")):
            rows = [e for e in s.scalars(select(EventRow).where(EventRow.type == kind)) if place in e.region]
            assert len(rows) == 1, [(e.amount_text, e.evidence) for e in rows]
            sources = {s.get(ArticleRow, m.article_id).source for m in rows[0].mentions}  # type: ignore[union-attr]
            assert sources == {"cnip-park", "jxnews"}, (place, sources)
    engine.dispose()

    # robots.txt was honoured on every site
    assert not [p for _site, p in replica.requests if p.startswith(("/admin", "/search"))]

    # a second crawl stores nothing new
    second = radar("--config", str(config), "crawl")
    assert second.returncode == 0, second.stderr
    engine, factory = open_database(db_url, migrate_schema=False)
    with factory() as s:
        assert len(s.scalars(select(ArticleRow)).all()) == len(articles)
        latest = s.scalars(select(CrawlRunRow).order_by(CrawlRunRow.id.desc()).limit(4)).all()
    engine.dispose()
    assert [r.new for r in latest] == [0, 0, 0, 0]

    # the digest lists the events once; a second run sends nothing
    env = smtp_env(smtp_server)
    sent = radar("--config", str(config), "digest", env=env)
    assert sent.returncode == 0, sent.stderr
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "analyst@example.org"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode("utf-8") for p in message.walk()
             if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    for needle in ("772.67亿元", "7369.0亿元", "4330.8亿元", "黄冈"):
        assert needle in parts["text/plain"], needle
        assert needle in parts["text/html"], needle
    assert parts["text/plain"].count("7369.0亿元 · +23.7%") == 1  # the repost adds a source, not a line
    assert parts["text/plain"].count("reported by 2 sources") >= 2
    again = radar("--config", str(config), "digest", env=env)
    assert again.returncode == 0 and "nothing sent" in again.stdout
    assert len(smtp_server.messages) == 1


def test_demo_and_every_command_it_suggests_run_as_printed(tmp_path: Path) -> None:
    """``radar demo`` as a new user runs it (no config, no recipients), then each ``try next``
    line pasted into a shell, exactly as printed."""
    import os
    import random
    import shlex
    import subprocess
    import sys

    env = {"RADAR_DATABASE_URL": f"sqlite:///{tmp_path / 'radar.sqlite3'}", "RADAR_DATA_DIR": str(tmp_path)}
    for _attempt in range(3):  # four consecutive loopback ports: another may be taken
        base = random.randrange(20000, 40000)
        out = radar("demo", "--port-base", str(base), env=env)
        if "cannot start the replica sites" not in out.stderr:
            break
    assert out.returncode == 0, out.stderr
    assert "events found per type" in out.stdout
    suggested = [line.strip() for line in out.stdout.split("try next:", 1)[1].splitlines() if line.strip()]
    assert any(" sql " in s for s in suggested) and any("digest --dry-run" in s for s in suggested)
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")} | env
    shell_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{shell_env.get('PATH', '')}"
    for line in suggested:
        assert shlex.split(line)[0].startswith(("radar", "RADAR_MAIL_TO=")), line
        done = subprocess.run(line, shell=True, env=shell_env, capture_output=True, text=True, timeout=120,
                              check=False, cwd=tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert done.stdout.strip(), line
        if "digest --dry-run" in line:
            assert "=== would send to you@example.org" in done.stdout
