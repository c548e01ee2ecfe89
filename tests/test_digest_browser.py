"""The HTML digest in a real browser (headless Chromium from the OS packages), at 390 and 1000 px:
no horizontal overflow, hostile page text stays inert, and the demo's daily digest is short
(each work report once, with its counts), in zh and en."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crawler.article import Article
from crawler.config.sources import load_config
from crawler.digest.delivery import deliver
from crawler.events.model import Event
from storage import queries
from storage.db import open_database, transaction
from storage.events import record_events
from tests.conftest import free_port
from tests.e2e import radar
from tests.test_digest import NOW, _config, _fill

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# .ci/run installs Chromium; in CI a missing browser is a failure, elsewhere a skip
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="headless Chromium (apt-get install chromium) not installed")

_OUTER = """<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="digest.html"
style="width:{width}px;height:600px;border:0"></iframe><script>
document.getElementById('f').onload = () => {{
  const d = document.getElementById('f').contentDocument, e = d.documentElement;
  document.title = [e.scrollHeight, e.scrollWidth, e.clientWidth,
                    d.querySelectorAll('script,img,iframe,object,svg').length, d.title.length].join(' ');
}};</script></body></html>"""


def measure(html: str, width: int, folder: Path) -> dict[str, int]:
    """Height, scroll width, client width and active elements of ``html`` laid out ``width`` px
    wide by Chromium (in an iframe: a headless window is never narrower than 500 px)."""
    (folder / "digest.html").write_text(html, encoding="utf-8")
    (folder / "outer.html").write_text(_OUTER.format(width=width), encoding="utf-8")
    assert CHROMIUM is not None
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--allow-file-access-from-files", "--window-size=1000,800", "--dump-dom",
                           (folder / "outer.html").as_uri()], capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r"<title>(\d+) (\d+) (\d+) (\d+) (\d+)</title>", done.stdout)
    assert found, done.stderr[-2000:]
    height, scroll, client, active, _ = map(int, found.groups())
    return {"height": height, "scroll_width": scroll, "client_width": client, "active": active}


def _html(result: Any) -> str:
    return str(result.message.get_body(preferencelist=("html",)).get_content())


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_overflow_and_hostile_text_stays_inert(sqlite_url: str, tmp_path: Path, language: str) -> None:
    engine, factory = open_database(sqlite_url)
    _fill(factory)
    hostile = '<img src=x onerror="parent.document.title=\'pwned\'"><script>parent.document.title="pwned"</script>'
    _fill(factory, [(hostile + "签约" + "长" * 300, "javascript:alert(1)",
                     Event(type="signing", subtype="project", region="江西省", parties=[hostile],
                           evidence=hostile + "项目签约" + "x" * 400, rule="r"))])
    config = _config(sqlite_url, {}, [{"name": "all", "to": "a@example.org", "language": language}])
    (preview,) = deliver(factory, config, dry_run=True, now=NOW)
    html = _html(preview)
    assert 'href="javascript' not in html
    for width in (390, 1000):
        got = measure(html, width, tmp_path)
        assert got["active"] == 0, got  # no script, image or frame came from page text
        assert got["scroll_width"] <= got["client_width"] == width, got
    engine.dispose()


def test_demo_digest_is_short_with_each_work_report_once(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    base = free_port()
    done = radar("demo", "--port-base", str(base), env=env, timeout=240)
    if done.returncode != 0 and "address already in use" in done.stderr.lower():
        pytest.skip("replica ports busy")
    assert done.returncode == 0, done.stderr[-2000:]
    config_path = tmp_path / "data" / "policy-radar" / "radar-demo.yaml"
    heights = {}
    for language in ("en", "zh"):
        cfg = load_config(config_path, env={})
        cfg = _with_subscription(cfg, language)
        engine, factory = open_database(cfg.settings.database_url)
        (preview,) = deliver(factory, cfg, dry_run=True, now=NOW)
        engine.dispose()
        html = _html(preview)
        for report in ("2022年吉林省政府工作报告", "2022年鄂州市政府工作报告", "2022年长沙市政府工作报告"):
            assert html.count(report) == 1, report  # once, in the background block, with its counts
        assert ("项：" if language == "zh" else " events: ") in html
        heights[language] = measure(html, 1000, tmp_path)["height"]
        if language == "zh":
            assert "Signings" not in html and "projects" not in html and "sources OK" not in html
            assert "开工" in html and "亿元" in html
    assert all(h <= 3000 for h in heights.values()), heights


def _with_subscription(cfg: Any, language: str) -> Any:
    from dataclasses import replace

    from crawler.config.subscriptions import Subscription

    return replace(cfg, subscriptions=(Subscription(name="demo", recipients=("you@example.org",),
                                                    language=language),))


def test_stages_and_amount_order_within_a_region(sqlite_url: str) -> None:
    engine, factory = open_database(sqlite_url)
    with transaction(factory) as s:
        for i, (amount, count) in enumerate([(None, 5), (3e9, None), (9e9, 2), (None, 40)]):
            body = f"第{i}篇正文，内容各不相同。" * (i + 3)  # distinct pages: not folded as duplicates
            stored = queries.store_article(s, Article(url=f"http://t.test/{i}", title=f"标题{i}", body=body,
                                                      published_at=NOW), source="t", fetched_at=NOW)
            record_events(s, stored.article_id, [Event(
                type="opening", subtype="production", stage="producing", region="江西省", amount_cny=amount,
                amount=amount, currency="CNY", project_count=count, evidence=f"第{i}句投产", rule="r")],
                published=NOW.date(), seen_at=NOW)
    config = _config(sqlite_url, {}, [{"name": "x", "to": "a@example.org", "language": "zh"}])
    (preview,) = deliver(factory, config, dry_run=True, now=NOW)
    text = str(preview.message.get_body(preferencelist=("plain",)).get_content())
    assert [text.index(f"标题{i}") for i in (2, 1, 3, 0)] == sorted(text.index(f"标题{i}") for i in range(4))
    assert "[投产] 90亿元 · 2 个项目" in text
    engine.dispose()
