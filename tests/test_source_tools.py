"""``radar source suggest`` and ``radar source test`` as commands, on the demo replica: the
printed entry loads and names what it found; a dry run prints what a crawl would store while
storing nothing (the database is not even created)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.e2e import radar

FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": 8,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8}


def _config(path: Path, db: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"settings": {"database_url": f"sqlite:///{db}", "data_dir": str(path.parent),
                                                 "workers": 0, "scrapy": FAST},
                                    "sources": entries}, allow_unicode=True), encoding="utf-8")
    return path


def test_suggest_prints_a_loadable_entry_with_matched_links(replica: Any, tmp_path: Path) -> None:
    url = replica.urls["gov"] + "/zwgk/zcwj/index.html"
    done = radar("source", "suggest", url, "--name", "ganzhou-gov",
                 env={"RADAR_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "# kind: listing; CMS: TRS" in out and "createPageHTML" in out and "# encoding: gb18030" in out
    assert f"# next listing page: {replica.urls['gov']}/zwgk/zcwj/index_1.html" in out
    entry = yaml.safe_load(out)["sources"][0]
    assert entry["name"] == "ganzhou-gov" and entry["start_urls"] == [url]
    assert re.search(entry["allow"], replica.urls["gov"] + "/zwgk/zcwj/202501/t20250102_123456.html")
    assert not re.search(entry["allow"], replica.urls["gov"] + "/zwgk/zcwj/index_1.html")
    assert re.findall(r"^#   (.+?)  http", out, re.M) == ["江西省乡村振兴责任制实施细则"]
    assert not (tmp_path / "never.db").exists()


def test_source_test_walks_and_extracts_and_stores_nothing(replica: Any, tmp_path: Path) -> None:
    db = tmp_path / "radar.db"
    config = _config(tmp_path / "radar.yaml", db, [{"name": "jxnews", "start_urls": [replica.urls["news"] +
                                                                                   "/jxxw/index.html"],
                                                   "next_page": "a.next::attr(href)", "schedule": "every: 1h"}])
    done = radar("--config", str(config), "source", "test", "jxnews", "--articles", "2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "jxnews (listing): 2 listing page(s), nothing stored" in out
    assert f"{replica.urls['news']}/jxxw/index_2.html" in out  # the page it walked on to
    assert r"allow /system/\d+/\d+/\d+/\d+\.shtml$ (inferred)" in out
    assert "title: 杭州进出口规模突破7000亿元" in out and "来源:  产业园区网" in out
    assert "event: trade · total · 7369.0亿元 · 浙江省杭州市" in out
    assert out.count("    title: ") == 2
    assert not db.exists()  # the database was not even created


def test_every_example_entry_says_its_cms_pattern() -> None:
    text = (Path(__file__).resolve().parents[1] / "radar.example.yaml").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=  # [^\n]*\n(?:  #[^\n]*\n)*  - name: )", text.split("\nsources:\n", 1)[1])
    named = [e for e in entries if "- name: " in e and "subscriptions:" not in e.split("- name: ")[0]]
    assert len(named) == len(yaml.safe_load(text)["sources"]) == 5
    for entry in named:
        assert re.search(r"^  # CMS pattern: \S", entry, re.M), entry
