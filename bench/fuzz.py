"""Fuzzing ``extract()``: real pages, mutated by a seeded generator, through the extractor and the
event detector; reports crashes, CPU time per page (max, p99) and peak memory.

Usage::

    python bench/fuzz.py [--pages 10000] [--seed 0] [--scale 1.0] [--gne PATH] [--json OUT]

The pages are the cwced copy in tests/data, the GeneralNewsExtractor test pages in
../shared/pages/gne (when present) and the seed pages of crawler/replica/seeds.  Each mutated
page gets one to three of the mutations in :data:`MUTATIONS` (byte flips, truncation, duplicated
and nested tags, digit runs, control characters, bogus charsets, deep JSON-LD, attribute and tag
floods …); ``--scale`` multiplies their sizes (tests/test_fuzz.py runs a few hundred pages at a
smaller scale).  A crash is any exception out of ``extract()`` or ``detect_events()``: both
promise never to raise on page content.  "Over budget" counts pages whose extraction used more
CPU time than ``extract``'s time budget.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from crawler.extraction import extract  # noqa: E402
from crawler.extraction.limits import TIME_BUDGET  # noqa: E402

CWCED = ROOT / "tests" / "data" / "cwced" / "original"
GNE = ROOT.parent / "shared" / "pages" / "gne"
SEEDS = ROOT / "crawler" / "replica" / "seeds"
NOW = datetime(2024, 6, 1, tzinfo=UTC)

Mutation = Callable[[bytes, random.Random, float], bytes]


def corpus(gne: Path = GNE) -> list[tuple[str, bytes]]:
    """(name, bytes) of every page to mutate, in a fixed order."""
    files = sorted(CWCED.glob("*.html")) + sorted(gne.glob("*.html")) + sorted(SEEDS.glob("*.txt"))
    return [(f"{p.parent.name}/{p.name}", p.read_bytes()) for p in files]


def _at(page: bytes, rng: random.Random) -> int:
    return rng.randrange(len(page) + 1)


def _insert(page: bytes, rng: random.Random, chunk: bytes) -> bytes:
    i = _at(page, rng)
    return page[:i] + chunk + page[i:]


def _n(rng: random.Random, low: int, high: int, scale: float) -> int:
    return rng.randint(low, max(low, int(high * scale)))


def flip_bytes(page: bytes, rng: random.Random, scale: float) -> bytes:
    data = bytearray(page)
    for _ in range(rng.randint(1, 64)):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def truncate(page: bytes, rng: random.Random, scale: float) -> bytes:
    return page[: _at(page, rng)]


def duplicate_tag(page: bytes, rng: random.Random, scale: float) -> bytes:
    starts = [i for i in range(0, len(page), 97) if page[i : i + 1] == b"<"] or [0]
    start = page.find(b"<", rng.randrange(len(page))) if page else -1
    start = start if start >= 0 else rng.choice(starts)
    end = page.find(b">", start)
    tag = page[start : end + 1] if 0 <= start < end else b"<p>"
    return _insert(page, rng, tag * _n(rng, 2, 5000, scale))


def nest(page: bytes, rng: random.Random, scale: float) -> bytes:
    opener = rng.choice([b"<div>", b"<b>", b"<span class=a>", b"<table><tr><td>", b"<ul><li>", b"<p><font>"])
    depth = _n(rng, 10, 5000, scale)
    return _insert(page, rng, opener * depth + b"\xe6\xb7\xb1" + (b"</div>" * depth if rng.random() < 0.5 else b""))


def digits(page: bytes, rng: random.Random, scale: float) -> bytes:
    run = rng.choice([b"1", b"9", b"2024", b"1,000", b"1.", b"\xe5\x8d\x81"])  # 十 as well
    tail = rng.choice([b"", "小时前".encode(), "个项目".encode(), "亿元".encode(), "年".encode(), b"%"])
    return _insert(page, rng, run * _n(rng, 100, 40_000, scale) + tail)


def control_chars(page: bytes, rng: random.Random, scale: float) -> bytes:
    junk = bytes(rng.choice([0, 1, 7, 8, 11, 12, 14, 27, 31, 127]) for _ in range(rng.randint(1, 30)))
    hidden = b'<span style="display:none">x</span>' + junk + b"tail" if rng.random() < 0.5 else junk
    return _insert(page, rng, hidden)


BOGUS_CHARSETS = ["idna", "punycode", "utf-7", "utf-16", "utf-32", "rot13", "base64", "zlib", "hex", "uu",
                  "cp037", "unicode_escape", "raw_unicode_escape", "x-no-such", "", "utf-8\x00", "mbcs", "hz"]


def bogus_charset(page: bytes, rng: random.Random, scale: float) -> bytes:
    meta = f'<meta charset="{rng.choice(BOGUS_CHARSETS)}">'.encode()
    if rng.random() < 0.5:
        meta = f'<meta http-equiv="Content-Type" content="text/html; charset={rng.choice(BOGUS_CHARSETS)}">'.encode()
    return meta + page


def deep_json_ld(page: bytes, rng: random.Random, scale: float) -> bytes:
    depth = _n(rng, 100, 100_000, scale)
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}"), (b'{"@graph":', b"}")])
    script = b'<script type="application/ld+json">' + opener * depth + b"1" + closer * depth + b"</script>"
    return _insert(page, rng, script)


def attribute_flood(page: bytes, rng: random.Random, scale: float) -> bytes:
    count = _n(rng, 100, 200_000, scale)
    attributes = b" ".join(b'a%d="%d"' % (i, i) for i in range(count))
    return _insert(page, rng, b"<div " + attributes + b">x</div>")


def tag_flood(page: bytes, rng: random.Random, scale: float) -> bytes:
    tag = rng.choice([b'<a href="/%d">%d</a>', b"<p>%d%d</p>", b"<br>%d%d", b"<td>%d</td><td>%d</td>"])
    return _insert(page, rng, b"".join(tag % (i, i) for i in range(_n(rng, 100, 120_000, scale))))


def odd_unicode(page: bytes, rng: random.Random, scale: float) -> bytes:
    chunk = rng.choice(["\ud800", "\udfff", "\ufffe", "\uffff", "\U0010ffff", "\u202e", "\x85"])
    data = (chunk * rng.randint(1, 200)).encode("utf-8", "surrogatepass")
    return _insert(page, rng, data)


def entities(page: bytes, rng: random.Random, scale: float) -> bytes:
    entity = rng.choice([b"&#0;", b"&#x1;", b"&#xD800;", b"&#99999999999;", b"&nbsp;", b"&#12288;", b"&amp"])
    return _insert(page, rng, entity * _n(rng, 10, 50_000, scale))


def broken_markup(page: bytes, rng: random.Random, scale: float) -> bytes:
    chunk = rng.choice([b"<!--", b"<![CDATA[", b"<script>", b"<style>", b"<title>", b"<?xml ", b"<", b"</",
                        b'<a href="', b"<textarea>", b"<plaintext>", b"\x00"])
    return _insert(page, rng, chunk * rng.randint(1, 50))


def long_line(page: bytes, rng: random.Random, scale: float) -> bytes:
    words = ["发布时间：", "来源：", "  ", "\t", "|", "——", "转第", "版", "签约", "与", "和", "有限公司", "(", "【"]
    text = "".join(rng.choice(words) for _ in range(_n(rng, 100, 30_000, scale)))
    return _insert(page, rng, text.encode())


MUTATIONS: dict[str, Mutation] = {f.__name__: f for f in (
    flip_bytes, truncate, duplicate_tag, nest, digits, control_chars, bogus_charset, deep_json_ld,
    attribute_flood, tag_flood, odd_unicode, entities, broken_markup, long_line,
)}


def mutated(pages: list[tuple[str, bytes]], count: int, seed: int, scale: float) -> Iterator[tuple[str, bytes]]:
    """``count`` mutated pages, the same ones for the same arguments: (description, bytes)."""
    rng = random.Random(seed)
    names = sorted(MUTATIONS)
    for _ in range(count):
        name, page = rng.choice(pages)
        applied = rng.sample(names, rng.choice([1, 1, 2, 3]))
        for mutation in applied:
            page = MUTATIONS[mutation](page, rng, scale)
        yield f"{name}+{'+'.join(applied)}", page


def bogus_headers(rng: random.Random) -> dict[str, str] | None:
    if rng.random() < 0.8:
        return None
    return {"Content-Type": f"text/html; charset={rng.choice(BOGUS_CHARSETS)}"}


@dataclass
class Report:
    """What a fuzz run found."""

    pages: int = 0
    crashes: list[tuple[str, str]] = field(default_factory=list)
    over_budget: list[tuple[str, float]] = field(default_factory=list)
    extract_seconds: list[float] = field(default_factory=list)
    detect_seconds: list[float] = field(default_factory=list)
    refused: int = 0
    skipped: int = 0
    errors: int = 0  # pages kept with provenance["error"]: a bug met, survived
    slowest: tuple[float, str] = (0.0, "")
    peak_rss_mib: float = 0.0
    rss_jumps: list[tuple[float, str]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) if ordered else 0.0

        return {
            "pages": self.pages, "crashes": len(self.crashes), "over_budget": len(self.over_budget),
            "refused": self.refused, "skipped_steps": self.skipped, "kept_after_error": self.errors,
            "extract_max_s": round(max(self.extract_seconds, default=0.0), 4),
            "extract_p99_s": pct(self.extract_seconds, 0.99), "extract_p50_s": pct(self.extract_seconds, 0.5),
            "detect_max_s": round(max(self.detect_seconds, default=0.0), 4),
            "detect_p99_s": pct(self.detect_seconds, 0.99),
            "slowest": self.slowest[1], "peak_rss_mib": round(self.peak_rss_mib, 1),
            "largest_rss_jumps": [(round(mib, 1), what) for mib, what in sorted(self.rss_jumps, reverse=True)[:5]],
        }


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(count: int, seed: int = 0, scale: float = 1.0, gne: Path = GNE, detect: bool = True,
        progress: int = 0) -> Report:
    """Fuzz ``count`` pages; never raises for what a page does (that is a crash in the report).
    With ``progress``, a line on stderr every ``progress`` pages."""
    from crawler.events import detect_events

    pages = corpus(gne)
    headers_rng = random.Random(seed + 1)
    report = Report()
    rss = _rss_mib()
    started = time.monotonic()
    for what, page in mutated(pages, count, seed, scale):
        report.pages += 1
        if progress and report.pages % progress == 0:
            print(f"{report.pages} pages, {time.monotonic() - started:.0f} s, {len(report.crashes)} crashes",
                  file=sys.stderr, flush=True)
        headers = bogus_headers(headers_rng)
        start = time.thread_time()
        try:
            art = extract(page, "http://www.example.gov.cn/zwgk/202401/t20240105_1.html", headers=headers,
                          fetched_at=NOW)
        except Exception:
            report.crashes.append((what, traceback.format_exc(limit=-3)))
            continue
        spent = time.thread_time() - start
        report.extract_seconds.append(spent)
        report.slowest = max(report.slowest, (spent, what))
        if spent > TIME_BUDGET:
            report.over_budget.append((what, spent))
        report.refused += "refused" in art.provenance
        report.skipped += "skipped" in art.provenance
        report.errors += "error" in art.provenance
        if detect:
            start = time.thread_time()
            try:
                detect_events(art.body, title=art.title)
            except Exception:
                report.crashes.append((what + " (detect)", traceback.format_exc(limit=-3)))
            report.detect_seconds.append(time.thread_time() - start)
        now = _rss_mib()
        if now > rss:
            report.rss_jumps.append((now - rss, what))
            rss = now
    report.peak_rss_mib = _rss_mib()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the mutations' sizes")
    parser.add_argument("--gne", type=Path, default=GNE)
    parser.add_argument("--no-detect", action="store_true", help="extraction only")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    started = time.monotonic()
    report = run(args.pages, args.seed, args.scale, args.gne, detect=not args.no_detect, progress=500)
    summary = report.summary()
    summary["wall_s"] = round(time.monotonic() - started, 1)
    for key, value in summary.items():
        print(f"{key:>20}: {value}")
    for what, trace in report.crashes[:20]:
        print(f"\nCRASH {what}\n{trace}")
    for what, spent in report.over_budget[:20]:
        print(f"OVER BUDGET {spent:.2f}s {what}")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    sys.exit(1 if report.crashes or report.over_budget else 0)


if __name__ == "__main__":
    main()
