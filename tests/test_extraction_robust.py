"""Pages and files built to hang or crash the extractor (issue 26, items 10–12): each is handled
in bounded time and memory, and what cannot be used is refused with the reason in provenance."""

from __future__ import annotations

import importlib
import io
import json
import os
import pkgutil
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

import crawler.events
import crawler.extraction
from crawler.events.numbers import parse_count
from crawler.events.rules import load_rules
from crawler.extraction import AttachmentError, attachment_text, attachments, extract
from crawler.extraction.dates import find_dates
from crawler.extraction.decode import decode_html
from crawler.extraction.limits import MAX_TAG_ATTRIBUTES, MAX_TAGS
from tests.e2e import bulk_config, python_child

NOW = datetime(2024, 1, 5, 12, tzinfo=UTC)
T = TypeVar("T")
URL = "http://www.example.gov.cn/zwgk/202401/t20240105_1.html"
ARTICLE = (
    "<html><head><title>关于印发实施方案的通知_某某市人民政府</title></head><body>"
    "<h1>关于印发实施方案的通知</h1><p>发布时间：2024-01-05</p>"
    "<div class='content'><p>各县（市、区）人民政府，市政府各部门：现将实施方案印发给你们，请认真贯彻执行。"
    "全市上下要坚持稳中求进工作总基调，推动经济社会高质量发展。</p>"
    "<p>一、总体要求。各地要加强组织领导，落实工作责任，确保各项任务落到实处。</p></div>"
    "</body></html>"
)


def _cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """(result, CPU seconds of this thread): a loaded machine's waiting does not count."""
    start = time.thread_time()
    result = fn(*args, **kwargs)
    return result, time.thread_time() - start


# ----------------------------------------------------------------------------- item 10


def test_a_long_run_of_digits_is_searched_for_dates_in_linear_time() -> None:
    """``_RELATIVE`` retried ``\\d+`` from every digit: 32,000 digits took 94 s."""
    found, seconds = _cpu(lambda: list(find_dates("1" * 32_000 + " 3小时前", now=NOW)))
    assert seconds < 2.0
    assert [m.precision for m in found] == ["relative"]  # the date after the run is still found


def test_a_page_of_ten_thousand_numbered_links_is_extracted_quickly() -> None:
    """The links' numbers render as one run of 38,890 digits: this page took 45 s."""
    links = "".join(f'<a href="/n/{i}.html">{i}</a>' for i in range(10_000))
    page = f"<html><head><title>目录</title></head><body><div>{links}</div></body></html>".encode()
    art, seconds = _cpu(extract, page, URL, fetched_at=NOW)
    assert seconds < 5.0
    assert art.title == "目录" and art.published_at is not None  # from the URL


def _patterns() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for package in (crawler.extraction, crawler.events):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, value in vars(module).items():
                if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                    found[f"{module.__name__}.{name}"] = value
    grammar = load_rules().numbers
    for name, value in vars(grammar).items():
        for i, rx in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(rx, re.Pattern):
                found[f"numbers.{name}[{i}]"] = rx
    return found


# runs of what the patterns repeat: digits, numerals, spaces, separators, markup
_RUNS = ["1", "一", "十", " ", "\t", "a", "中", "2024", "2024-", "1.", ",000", "<", "a=", "-", "_ ",
         "：", "来源：", "1个", "亿", "转第", "〔2024〕", "【"]


def test_no_pattern_of_the_extractor_or_the_detector_is_quadratic() -> None:
    """Every module-level pattern of crawler.extraction and crawler.events (and the number
    grammar's) scans 12,000 characters of each kind of run in linear time: the quadratic ones
    took from half a second to several seconds here, the linear ones milliseconds."""
    slow = {}
    for name, rx in _patterns().items():
        for unit in _RUNS:
            text = (unit * (12_000 // len(unit) + 1))[:12_000]
            _, seconds = _cpu(lambda: sum(1 for _ in rx.finditer(text)))  # noqa: B023
            if seconds > 0.25:
                slow[name] = (unit, round(seconds, 2))
    assert not slow


def _attribute_flood(n: int) -> bytes:
    attributes = " ".join(f'data-a{i}="{i}"' for i in range(n))
    return f"<html><head><title>洪水 页面</title></head><body><div {attributes}>正文</div></body></html>".encode()


def test_an_element_with_two_hundred_thousand_attributes_is_refused_before_parsing() -> None:
    """lxml compares each attribute with the ones before it: this page held it for minutes."""
    art, seconds = _cpu(extract, _attribute_flood(200_000), URL, fetched_at=NOW)
    assert seconds < 3.0
    assert "attributes" in art.provenance["refused"] and art.title == "洪水 页面" and art.body == ""


def test_too_many_tags_are_refused_and_a_big_ordinary_page_is_not() -> None:
    flood = b"<html><head><title>t</title></head><body>" + b"<a href=/>x</a>" * (MAX_TAGS // 2 + 1) + b"</body>"
    art, seconds = _cpu(extract, flood, URL)
    assert seconds < 3.0 and "tags" in art.provenance["refused"]
    # a few hundred attributes on an element, and a long inline image, are not a flood
    image = "data:image/png;base64," + "QUJD" * 50_000
    fine = (f'<html><body><div {" ".join(f"a{i}=1" for i in range(MAX_TAG_ATTRIBUTES // 4))}>'
            f'<img src="{image}"><p>{"正文。" * 50}</p></div></body></html>').encode()
    kept = extract(fine, URL)
    assert "refused" not in kept.provenance and "正文。" in kept.body


def test_quoted_angle_brackets_do_not_hide_an_attribute_flood() -> None:
    """Quoted values may hold "<" and ">": 100,000 attributes valued "<" slipped past the scan
    for long tags, and lxml took most of a minute over them."""
    for value in ("&lt;<", ">"):
        attributes = " ".join(f'a{i}="{value}"' for i in range(100_000))
        page = f"<html><head><title>引号</title></head><body><div {attributes}>x</div></body></html>".encode()
        art, seconds = _cpu(extract, page, URL)
        assert seconds < 3.0 and "attributes" in art.provenance["refused"] and art.title == "引号"


def test_an_attribute_value_of_megabytes_is_tested_on_its_start() -> None:
    """An unclosed quote swallowed a page into one class value of 7 MB: each class pattern took
    seconds over it (a fuzzed ifeng page, 4.7 s)."""
    filler = "data[i]>key;" * 550_000  # one word: not a flood of attributes
    page = (f'<html><head><title>长属性</title></head><body><a class="x {filler}">链接</a>'
            f"<p>{'正文内容。' * 40}</p></body></html>").encode()
    art, seconds = _cpu(extract, page, URL)
    assert seconds < 2.0 and "refused" not in art.provenance and "正文内容" in art.body


def test_a_page_over_its_time_budget_keeps_title_and_body_and_says_what_it_skipped() -> None:
    full = extract(ARTICLE.encode(), URL, fetched_at=NOW)
    assert "skipped" not in full.provenance and full.published_at is not None
    spent = extract(ARTICLE.encode(), URL, fetched_at=NOW, budget=0.0, region_hint="江西省")
    assert (spent.title, spent.body) == (full.title, full.body)
    assert spent.provenance["skipped"].split(",") == ["page-text", "dates-in-text", "signature", "epaper",
                                                      "attachments", "region"]
    assert spent.published_at == full.published_at  # from the URL, which costs nothing to read
    assert spent.region == "江西省" and spent.provenance["region"] == "hint"


# ----------------------------------------------------------------------------- item 11


def _gbk_page(charset: str) -> bytes:
    return (f'<html><head><meta charset="{charset}"><title>中文标题页面</title></head>'
            f"<body><p>{'这是一段中文正文。' * 20}</p></body></html>").encode("gbk")


@pytest.mark.parametrize("charset", ["idna", "punycode", "utf-7", "rot13"])
def test_a_declared_charset_that_is_not_a_web_text_encoding_is_ignored(charset: str) -> None:
    text, encoding, garbled = decode_html(_gbk_page(charset))
    assert encoding == "gb18030" and "中文标题页面" in text and garbled == 0.0
    assert extract(_gbk_page(charset), URL).title == "中文标题页面"


def _ld(document: str) -> bytes:
    return (f'<html><head><title>深层 JSON-LD</title><script type="application/ld+json">{document}</script>'
            f"</head><body><p>{'正文内容。' * 30}</p></body></html>").encode()


@pytest.mark.parametrize("document", ["[" * 100_000 + "]" * 100_000,
                                      '{"a":' * 5_000 + "1" + "}" * 5_000,
                                      '{"@graph":' * 900 + '{"@type":"NewsArticle","headline":"深"}' + "}" * 900])
def test_deeply_nested_json_ld_is_skipped(document: str) -> None:
    art = extract(_ld(document), URL)
    assert art.title == "深层 JSON-LD" and "正文内容" in art.body and "error" not in art.provenance


def test_a_control_character_in_the_tail_of_a_hidden_element_is_kept_out() -> None:
    page = ("<html><body><div><span style='display:none'>隐藏</span>尾部\x01文字\x0b后面</div>"
            f"<p>{'正文内容。' * 30}</p></body></html>").encode()
    art = extract(page, URL)
    assert "error" not in art.provenance and "隐藏" not in art.body and "正文内容" in art.body


def test_a_project_count_of_five_thousand_digits_is_not_a_count() -> None:
    """int() refuses strings of more than 4,300 digits: the detector raised on this text."""
    assert parse_count("新签约项目" + "9" * 5_000 + "个") is None
    assert parse_count("签约" + "1" * 5_000 + "个项目") is None
    assert parse_count("新签约项目12个") == 12  # an ordinary count is still read
    assert load_rules().numbers.count_after_trigger("9" * 5_000 + "个") is None


def test_extract_list_goes_on_past_files_it_cannot_read(tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    good.write_bytes(ARTICLE.encode())
    idna = tmp_path / "idna.html"
    idna.write_bytes(_gbk_page("idna"))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{good}\t{URL}\n{tmp_path / 'missing.html'}\n{tmp_path}\n{idna}\t{URL}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "crawler.cli", "extract", "--list", str(listing)],
                          capture_output=True, text=True, timeout=120, check=False)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(good), str(tmp_path / "missing.html"), str(tmp_path), str(idna)]
    assert records[0]["title"] == "关于印发实施方案的通知" and records[3]["title"] == "中文标题页面"
    assert records[1]["error"] == "No such file or directory" and records[2]["error"] == "Is a directory"
    assert done.returncode == 1 and "2 of 4 files" in done.stderr and "Traceback" not in done.stderr


# ----------------------------------------------------------------------------- item 12


def _docx_bomb(path: Path, unpacked: int) -> None:
    """A DOCX whose document.xml is ``unpacked`` bytes of zeros, written a megabyte at a time."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"/>')
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked >> 20):
                member.write(block)


def test_a_docx_zip_bomb_is_refused_without_unpacking_it(tmp_path: Path) -> None:
    """400 MB of zeros in a 400 KB DOCX. Unpacking it is what the old code did (3.1 GB for the
    1.5 GB bomb); the refusal reads only the archive's directory, so peak memory hardly moves."""
    bomb = tmp_path / "bomb.docx"
    _docx_bomb(bomb, 400 << 20)
    assert bomb.stat().st_size < 2 << 20
    code = ("import resource, sys; from pathlib import Path; "
            "from crawler.extraction import AttachmentError, attachment_text; "
            "data = Path(sys.argv[1]).read_bytes(); import docx; "
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n attachment_text(data, 'bomb.docx')\nexcept AttachmentError as exc:\n print(exc)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    reason, grown_kib = python_child(code, str(bomb)).splitlines()
    assert "unpacks" in reason
    assert int(grown_kib) < 50 * 1024


def test_archives_are_checked_whatever_they_claim_to_be() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("content.xml", b" " * (8 << 20))  # an OFD or XLSX part that packs 1000 times
    with pytest.raises(AttachmentError, match="unpacks"):
        attachment_text(buf.getvalue(), "report.ofd")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(10_001):
            zf.writestr(f"{i}.txt", b"")
    with pytest.raises(AttachmentError, match="members"):
        attachment_text(buf.getvalue(), "many.zip")


def _pdf(pages: int) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    def name(n: str) -> NameObject:
        return NameObject(f"/{n}")

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({name("Type"): name("Font"), name("Subtype"): name("Type1"),
                                                name("BaseFont"): name("Helvetica")}))
    for i in range(pages):
        page = writer.add_blank_page(200, 200)
        content = DecodedStreamObject()
        content.set_data(b"BT /F1 12 Tf 20 100 Td (page%d) Tj ET" % i)
        page[name("Contents")] = writer._add_object(content)
        page[name("Resources")] = DictionaryObject({name("Font"): DictionaryObject({name("F1"): font})})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_a_pdf_is_read_for_at_most_max_pdf_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pdf(12)
    assert attachment_text(data, "a.pdf").split() == [f"page{i}" for i in range(12)]
    monkeypatch.setattr(attachments, "MAX_PDF_PAGES", 5)  # the cap itself, at a size a test can reach
    assert attachment_text(data, "a.pdf").split() == [f"page{i}" for i in range(5)]


def test_a_manual_crawl_is_held_to_crawl_memory_mb_unless_told_otherwise(tmp_path: Path) -> None:
    """A manual ``radar crawl`` ran without any memory limit; now it takes the daemon's setting.
    Under 20 MiB no crawl can start, which the limit's own check reports before anything runs."""
    config = tmp_path / "radar.yaml"
    config.write_text(yaml.safe_dump({
        "settings": {"database_url": f"sqlite:///{tmp_path / 'radar.sqlite3'}", "crawl_memory_mb": 20,
                     "scrapy": {"RETRY_ENABLED": False}},
        "sources": [{"name": "nowhere", "start_urls": ["http://127.0.0.1:9/x/"], "allow": "/x/",
                     "schedule": "every: 1h", "max_pages": 1}]}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    held = subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert held.returncode == 1 and "this crawl's limit of 20 MiB" in held.stderr, held.stderr
    free = subprocess.run([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl", "--memory-mb", "0"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert "limit of" not in free.stderr and "nowhere" in free.stdout, free.stderr


def _processes() -> dict[int, tuple[int, str, int, int]]:
    """pid → (parent pid, state, CPU ticks, nice) of every process, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(entry)] = (int(fields[1]), fields[0], int(fields[11]) + int(fields[12]), int(fields[16]))
    return out


def _workers(crawl: int) -> set[int]:
    """The crawl's extraction workers: its fork server's children that run nicer than it does
    (the writer, the fork server's other child, does not)."""
    procs = _processes()
    servers = {pid for pid, (ppid, *_) in procs.items() if ppid == crawl}
    nice = procs[crawl][3] if crawl in procs else 0
    return {pid for pid, (ppid, _, _, n) in procs.items() if ppid in servers and n > nice}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_extraction_workers_end_with_a_killed_crawl(tmp_path: Path) -> None:
    """A crawl killed with SIGKILL while its worker prepares a batch of long pages: the worker
    used to finish the batch first (seconds), now the kernel ends it with the fork server."""
    from crawler.replica.bulk import build_bulk_site, seed_paragraphs
    from crawler.replica.server import ReplicaSites

    # paragraphs of 0.3–1 MB: each page takes the worker about a second, a batch of them several
    long = [f"（{n}）" + p * 2000 for n, p in enumerate(seed_paragraphs())]
    with ReplicaSites(sites={"bulk": build_bulk_site(24, long)}) as site:
        config = bulk_config(tmp_path / "radar.yaml", site.urls["bulk"], tmp_path / "radar.sqlite3")
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        settings["settings"]["scrapy"]["RADAR_WORKERS"] = 1
        config.write_text(yaml.safe_dump(settings), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
        crawl = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "crawl"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # the workers, once one of them has done real work (a third of a second of CPU)
            deadline = time.monotonic() + 120
            workers: set[int] = set()
            while time.monotonic() < deadline and crawl.poll() is None:
                workers = _workers(crawl.pid)
                if any(_processes().get(p, (0, "", 0, 0))[2] > 30 for p in workers):
                    break
                time.sleep(0.05)
            assert workers and crawl.poll() is None, "no worker got to work before the crawl ended"
            crawl.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            crawl.wait()
            while time.monotonic() < killed + 10 and any(_alive(p) for p in workers):
                time.sleep(0.02)
            outlived = time.monotonic() - killed
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.wait()
    assert not any(_alive(p) for p in workers)
    assert outlived < 2.0

