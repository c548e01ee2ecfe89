"""Digests through Apprise channels against a real HTTP receiver on 127.0.0.1 (json:// and
form://): delivery, the outbox's once-only retry when the receiver is down then back, the size
limit, secrets from the environment, and the parsing of DingTalk, WeCom and Feishu URLs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from crawler.config.sources import parse_config
from crawler.config.subscriptions import notify_url
from crawler.digest.channels import body_limit
from crawler.digest.delivery import deliver
from crawler.errors import ConfigError
from crawler.events.model import Event
from storage.db import open_database
from storage.models import DigestRow
from tests.conftest import free_port
from tests.test_digest import NOW, _broken_gov, _config, _fill


class Receiver:
    """A real HTTP server that records each POST (headers and body); ``down`` answers 503."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _sub(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "chat", "notify": [url], **extra}


def test_json_channel_gets_markdown_once_with_the_digest_key(sqlite_url: str, receiver: Receiver) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    url = f"json://127.0.0.1:{receiver.port}/hook"
    config = _config(sqlite_url, {}, [_sub(url, language="zh")])
    (preview,) = deliver(factory, config, dry_run=True, now=NOW)
    assert preview.status == "dry-run" and preview.message is None and "开工" in preview.body
    assert receiver.posts == []
    (sent,) = deliver(factory, config, now=NOW)
    assert sent.status == "sent" and sent.recipient == url
    (post,) = receiver.posts
    payload = json.loads(post["body"])
    assert payload["title"].startswith("政策雷达：") and "签约 1 项" in payload["title"]
    assert "**开工** 772.67亿元 · 97 个项目" in payload["message"]
    assert "[杭州进出口规模突破7000亿元](http://park.test/3.html)" in payload["message"]
    assert "\\<script\\>" in payload["message"]  # page text is escaped for markdown
    assert post["headers"]["X-Policy-Radar-Digest"] == sent.key == f"chat|{url}|daily:2025-07-02"
    assert deliver(factory, config, now=NOW + timedelta(hours=1))[0].status == "exists"
    assert len(receiver.posts) == 1
    engine.dispose()


def test_a_chinese_channel_gets_its_health_alerts_in_chinese(sqlite_url: str, receiver: Receiver) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    _broken_gov(factory)
    url = f"json://127.0.0.1:{receiver.port}/hook"
    config = parse_config({"settings": {"database_url": sqlite_url}, "sources": [
        {"name": "broken-gov", "start_urls": ["http://gov.test/"], "allow": "/a/", "schedule": "every: 1h"}],
        "subscriptions": [_sub(url, language="zh")]}, env={})
    (sent,) = deliver(factory, config, now=NOW)
    assert sent.status == "sent"
    message = json.loads(receiver.posts[0]["body"])["message"]
    assert "- **broken-gov** 连续失败: 连续3次抓取失败，最近一次出错：“crashed: exit code 1: OSError: boom”" in message
    assert "crawls failed" not in message
    engine.dispose()


def test_receiver_down_then_back_delivers_once(sqlite_url: str, receiver: Receiver) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    config = _config(sqlite_url, {}, [_sub(f"form://127.0.0.1:{receiver.port}/in")])
    receiver.down = True
    (failed,) = deliver(factory, config, now=NOW)
    assert failed.status == "failed" and "form://" in failed.error
    with factory() as s:
        row = s.scalars(select(DigestRow)).one()
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    receiver.down = False
    assert [r.status for r in deliver(factory, config, now=NOW + timedelta(seconds=30))] == ["exists"]
    assert receiver.posts == []  # backoff not over: not tried
    late = deliver(factory, config, now=NOW + timedelta(seconds=61))
    assert [r.status for r in late] == ["sent", "exists"]
    assert deliver(factory, config, now=NOW + timedelta(seconds=200))[0].status == "exists"
    (post,) = receiver.posts
    form = parse_qs(post["body"].decode())
    assert "772.67亿元" in form["message"][0] and post["headers"]["X-Policy-Radar-Digest"] == failed.key
    with factory() as s:
        assert s.scalars(select(DigestRow.status)).all() == ["sent"]
    engine.dispose()


def test_message_over_the_limit_is_trimmed_with_a_pointer_to_the_rest(sqlite_url: str, receiver: Receiver) -> None:
    engine, factory = open_database(sqlite_url)
    many = [(f"第{i}个项目签约 工程{i}", f"http://park.test/{i}.html",
             Event(type="signing", subtype="project", region="江西省赣州市", amount_cny=(i + 1) * 1e8,
                   amount=(i + 1) * 1e8, currency="CNY", amount_text=f"{i + 1}亿元", parties=[f"公司{i}"],
                   evidence=f"公司{i}投资{i + 1}亿元的工程{i}项目签约落户赣州" + "，" * 40, rule="r"))
            for i in range(30)]
    _fill(factory, many)
    config = _config(sqlite_url, {}, [_sub(f"json://127.0.0.1:{receiver.port}/", notify_max_bytes=1500)])
    (sent,) = deliver(factory, config, now=NOW)
    assert sent.status == "sent" and sent.event_count == 30
    message = json.loads(receiver.posts[0]["body"])["message"]
    assert len(message.encode()) <= 1500
    assert "30亿元" in message and "1亿元" not in message.replace("21亿元", "").replace("11亿元", "")
    assert "more. See all 30 events" in message and "radar sql" in message
    engine.dispose()


def test_tokens_come_from_the_environment_only(sqlite_url: str, receiver: Receiver,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"subscription 'chat', key 'notify'.*\$\{NAME\}"):
        _config(sqlite_url, {}, [_sub("dingtalk://abcdef0123456789abcdef0123456789/")])
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    url = f"json://127.0.0.1:{receiver.port}/${{HOOK_PATH}}"
    config = _config(sqlite_url, {}, [_sub(url)])
    (failed,) = deliver(factory, config, now=NOW)
    assert failed.status == "failed" and "HOOK_PATH" in failed.error
    monkeypatch.setenv("HOOK_PATH", "s3cret-path")
    assert deliver(factory, config, now=NOW + timedelta(minutes=5))[0].status == "sent"
    assert receiver.posts[0]["path"] == "/s3cret-path"
    with factory() as s:
        stored = s.scalars(select(DigestRow)).one()
        assert stored.recipients == url and "s3cret" not in stored.idempotency_key  # the outbox keeps no secret
    engine.dispose()


@pytest.mark.parametrize(("url", "service"), [
    ("dingtalk://${DINGTALK_TOKEN}/", "NotifyDingTalk"),
    ("dingtalk://${DINGTALK_SECRET}@${DINGTALK_TOKEN}/", "NotifyDingTalk"),
    ("wecombot://${WECOM_BOT_KEY}", "NotifyWeComBot"),
    ("feishu://${FEISHU_TOKEN}", "NotifyFeishu"),
])
def test_chinese_chat_urls_parse(url: str, service: str) -> None:
    from crawler.config.subscriptions import expand
    from crawler.digest.channels import apprise

    assert notify_url(url) == url
    plugin = apprise.Apprise.instantiate(expand(url, lambda _n: "0123456789abcdef0123456789abcdef"))
    assert type(plugin).__name__ == service
    assert 1000 < body_limit(url, "政策雷达：签约 1 项") <= 20000


@pytest.mark.parametrize("url", ["nonsense", "nosuchservice://${X}", "json://user:pw@127.0.0.1/"])
def test_bad_notify_urls_are_named(url: str) -> None:
    with pytest.raises(ValueError):
        notify_url(url)


def test_subscription_filters_pick_sources_tags_stages_amounts_and_news(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)  # source "park": an opening of 772.67亿元, a signing, a trade figure
    _fill(factory, [("旧闻：2021年签约", "http://old.test/1", Event(
        type="signing", subtype="aggregate", stage="signed", project_count=9, region="江西省", period="2021年",
        retrospective=True, evidence="2021年签约9个项目", rule="r"))])
    subs = [{"name": "big", "to": "a@example.org", "min_amount_cny": 1e11},
            {"name": "started", "to": "b@example.org", "stages": ["started"]},
            {"name": "news", "to": "c@example.org", "retrospective": "exclude"},
            {"name": "other-source", "to": "d@example.org", "sources": ["elsewhere"]},
            {"name": "bg", "to": "e@example.org", "language": "zh"}]
    config = _config(sqlite_url, {}, subs)
    got = {r.recipient: r for r in deliver(factory, config, dry_run=True, now=NOW)}
    assert got["a@example.org"].event_count == 1 and "7369" in got["a@example.org"].subject + str(
        got["a@example.org"].message)
    assert got["b@example.org"].event_count == 1
    assert got["c@example.org"].event_count == 3
    assert got["d@example.org"].status == "nothing"
    bg = got["e@example.org"]
    assert bg.event_count == 4 and bg.subject.endswith("；背景 1 项")
    text = str(bg.message.get_body(preferencelist=("plain",)).get_content()) if bg.message else ""
    assert "== 背景：往期回顾数据 ==" in text and "旧闻：2021年签约" in text
    engine.dispose()
