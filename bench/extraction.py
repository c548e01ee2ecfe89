"""Extraction benchmark: Policy Radar against trafilatura and GNE, side by side, in one run.

Usage::

    python bench/extraction.py [--cwced PATH] [--no-replica] [--only NAME] [--json OUT]

Reports, per extractor and per page set:

* body F1 — mean character-bigram F1 between the extracted body and the hand-made answer,
  whitespace ignored (so paragraph/indent differences do not count);
* date accuracy — share of pages with a dated answer whose extracted date agrees with it at the
  answer's own precision (day, or month / year when the answer gives only that).  The cwced answers
  are sometimes the 成文日期 (date written) of a government notice rather than its 发布日期; Policy
  Radar reports those separately (``written_at``), so the ``date*`` column also accepts a match on
  ``written_at``.  The strict column (``date``) looks at the publication date only;
* title accuracy — exact match after whitespace folding, where an answer is known (cwced has none);
* docs/s — pages per second for the extraction call alone, one process pinned to one core.

trafilatura gets the raw bytes (it decodes itself); GNE only takes text, so it gets Policy
Radar's decoding — it is judged on extraction, not on charset guessing (fed naively decoded
GBK pages it scored 0.57 body F1 before).

* kind accuracy — whether the page was called an article or not (index/column pages, error and
  form pages), where the answer says: every cwced and gne page is an article, the replica's
  pages without an answer are not; Policy Radar says so in ``provenance["page_kind"]``,
  trafilatura and GNE call a page an article when they return any text.

cwced: 69 real pages with answers (see tests/data/cwced/NOTICE).  gne: 53 real pages from about
40 sites (../shared/pages/gne, GPL-3.0) with hand-written answers in
tests/data/extraction/gne/answers*.yaml; only labelled pages are run.  Replica pages come from
``crawler.replica.build_sites()`` when that module provides it (see :func:`load_replica`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CWCED = REPO.parent / "shared" / "pages" / "cwced"
DEFAULT_GNE = REPO.parent / "shared" / "pages" / "gne"
GNE_ANSWERS = REPO / "tests" / "data" / "extraction" / "gne"
# the copy kept with the tests, used when shared/ is not beside the repo
FALLBACK_CWCED = REPO / "tests" / "data" / "cwced"


@dataclass
class Case:
    """One page with its answers.  ``day`` is (year, month, day) with unknown parts as None."""

    name: str
    html: bytes
    url: str
    body: str | None = None
    day: tuple[int, int | None, int | None] | None = None
    title: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    kind: str | None = None  # "article", "index" or "other" where the answer says


@dataclass
class Result:
    body: str = ""
    published: date | None = None
    written: date | None = None
    title: str = ""
    kind: str = "article"


# --------------------------------------------------------------------------- metrics

# one definition of the metrics for the bench and the quality-gate test
from crawler.extraction.scoring import char_f1, date_matches, parse_date_answer  # noqa: E402

_WS = re.compile(r"\s+")


# --------------------------------------------------------------------------- page sets

_TEXT_WRAPPER = re.compile(rb'^\s*<text\s+id="([^"]+)"')


def load_cwced(root: Path) -> list[Case]:
    cases = []
    for page in sorted((root / "original").glob("*.html")):
        html = page.read_bytes()
        # Some pages are wrapped in the crawl corpus' <text id="URL" ...> element: use the URL.
        m = _TEXT_WRAPPER.match(html[:2000].lstrip(b"\xef\xbb\xbf"))
        url = m.group(1).decode("ascii", "replace") if m else f"http://cwced.invalid/{page.stem}.html"
        body_file = root / "cleaned" / f"{page.stem}.txt"
        date_file = root / "date" / f"{page.stem}.txt"
        body = body_file.read_text("utf-8-sig") if body_file.exists() else None
        day = parse_date_answer(date_file.read_text("utf-8-sig")) if date_file.exists() else None
        # every cwced page is a news or government article: a negative for the index kind
        cases.append(Case(page.stem, html, url, body=body, day=day, kind="article"))
    return cases


def load_gne(pages: Path, answers: Path = GNE_ANSWERS) -> list[Case]:
    """The gne pages that have an answer (tests/data/extraction/gne/answers*.yaml).

    Every page is judged on its kind; article pages also on body, title and date.  A page
    labelled index/other has no body answer, so it is left out of the body F1 mean."""
    from crawler.extraction.scoring import load_answers

    cases = []
    for entry in load_answers(answers):
        page = pages / str(entry["page"])
        if not page.is_file():
            continue
        kind = str(entry.get("kind", "article"))
        article = kind == "article"
        title = _WS.sub(" ", str(entry["title"])).strip() if article and entry.get("title") else None
        day = parse_date_answer(str(entry["published"])) if article and entry.get("published") else None
        url = str(entry.get("url") or f"http://gne.invalid/{page.name}")
        body = entry["body"] if article else None
        cases.append(Case(page.stem, page.read_bytes(), url, body=body, day=day, title=title, kind=kind))
    return cases


# replica pages that are neither articles nor listings: error pages, the admin login, search forms
_REPLICA_OTHER = re.compile(r"/404\.html$|/admin/|/search/")


def load_replica() -> list[Case]:
    """Pages of the offline replica sites, when ``crawler.replica`` can build them.

    Hook: ``crawler.replica.build_sites()`` returns ``{site: {path: Resource}}``.  An HTML
    resource that carries an answer — an ``expected`` mapping (attribute or dict key) with any
    of ``body``, ``published_at``/``date``, ``title`` — is an article, scored on everything.
    HTML pages without one are judged on their kind only: error, login and search pages
    (:data:`_REPLICA_OTHER`) are "other", the rest (home, column, listing and e-paper page
    pages, built from real sites' structures) "index".
    """
    try:
        from crawler import replica
    except Exception:  # pragma: no cover - the module is being written by someone else
        return []
    build = getattr(replica, "build_sites", None)
    if build is None:
        return []
    cases: list[Case] = []
    for site, resources in build().items():
        for path, res in resources.items():
            ctype = str(getattr(res, "content_type", "") or "")
            body = getattr(res, "body", b"")
            if "html" not in ctype or not isinstance(body, bytes | str):
                continue
            if isinstance(body, str):
                body = body.encode("utf-8")
            expected: Any = getattr(res, "expected", None) or {}
            if not isinstance(expected, dict):
                expected = {k: getattr(expected, k, None) for k in ("body", "published_at", "date", "title")}
            host = site if "://" in site else f"http://{site}"
            page_url = host.rstrip("/") + "/" + str(path).lstrip("/")
            if not expected:
                kind = "other" if _REPLICA_OTHER.search(str(path)) else "index"
                cases.append(Case(f"{site}{path}", body, page_url, headers={"Content-Type": ctype}, kind=kind))
                continue
            when = expected.get("published_at") or expected.get("date")
            day: tuple[int, int | None, int | None] | None = None
            if isinstance(when, datetime | date):
                day = (when.year, when.month, when.day)
            elif isinstance(when, str):
                day = parse_date_answer(when)
            cases.append(
                Case(
                    f"{site}{path}",
                    body,
                    page_url,
                    body=expected.get("body"),
                    day=day,
                    title=expected.get("title"),
                    headers={"Content-Type": ctype},
                    kind="article",
                )
            )
    return cases


# --------------------------------------------------------------------------- extractors


def radar(case: Case) -> Result:
    from crawler.extraction import extract

    art = extract(case.html, case.url, headers=case.headers or None)
    return Result(
        body=art.body,
        published=art.published_at.date() if art.published_at else None,
        written=art.written_at.date() if art.written_at else None,
        title=art.title,
        kind=art.provenance.get("page_kind") or ("article" if art.body else "none"),
    )


def trafilatura_ex(case: Case) -> Result:
    import trafilatura

    doc = trafilatura.bare_extraction(case.html, url=case.url, with_metadata=True)
    if doc is None:
        return Result()
    d = doc if isinstance(doc, dict) else doc.as_dict()
    when = None
    if d.get("date"):
        try:
            when = datetime.strptime(str(d["date"])[:10], "%Y-%m-%d").date()
        except ValueError:
            when = None
    text = d.get("text") or ""
    return Result(body=text, published=when, title=d.get("title") or "", kind="article" if text else "none")


_GNE: Any = None


def gne_ex(case: Case) -> Result:
    global _GNE
    from gne import GeneralNewsExtractor

    from crawler.extraction import decode_html

    if _GNE is None:
        _GNE = GeneralNewsExtractor()
    # GNE wants text; give it our decoding so it is judged on extraction, not on charset guessing.
    text, _, _ = decode_html(case.html, case.headers or None)
    try:
        d = _GNE.extract(text)
    except Exception:
        return Result()
    when = None
    m = re.search(r"(\d{4})\D(\d{1,2})\D(\d{1,2})", str(d.get("publish_time") or ""))
    if m:
        try:
            when = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            when = None
    text = d.get("content") or ""
    return Result(body=text, published=when, title=d.get("title") or "", kind="article" if text else "none")


EXTRACTORS: dict[str, Callable[[Case], Result]] = {
    "policy-radar": radar,
    "trafilatura": trafilatura_ex,
    "gne": gne_ex,
}


# --------------------------------------------------------------------------- running


@dataclass
class Score:
    f1: list[float] = field(default_factory=list)
    date_strict: list[bool] = field(default_factory=list)
    date_any: list[bool] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    kind: list[bool] = field(default_factory=list)
    seconds: float = 0.0
    docs: int = 0
    per_page: dict[str, dict[str, Any]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        def mean(xs: Iterable[float]) -> float | None:
            xs = list(xs)
            return sum(xs) / len(xs) if xs else None

        return {
            "body_f1": mean(self.f1),
            "date": mean(float(x) for x in self.date_strict),
            "date*": mean(float(x) for x in self.date_any),
            "title": mean(float(x) for x in self.title),
            "kind": mean(float(x) for x in self.kind),
            "docs_per_s": self.docs / self.seconds if self.seconds else None,
            "n_body": len(self.f1),
            "n_date": len(self.date_strict),
            "n_title": len(self.title),
            "n_kind": len(self.kind),
        }


def run(cases: list[Case], name: str, fn: Callable[[Case], Result], repeat: int = 1) -> Score:
    score = Score()
    fn(cases[0])  # warm-up: imports and lazily built tables are not what we time
    for case in cases:
        start = time.perf_counter()
        for _ in range(repeat):
            res = fn(case)
        score.seconds += (time.perf_counter() - start) / repeat
        score.docs += 1
        page: dict[str, Any] = {}
        if case.body is not None:
            f1 = char_f1(res.body, case.body)
            score.f1.append(f1)
            page["f1"] = round(f1, 3)
        if case.day is not None:
            strict = date_matches(res.published, case.day)
            score.date_strict.append(strict)
            score.date_any.append(strict or date_matches(res.written, case.day))
            page["date"] = str(res.published)
            page["gold"] = case.day
        if case.title is not None:
            score.title.append(_WS.sub("", res.title) == _WS.sub("", case.title))
        if case.kind is not None:
            # an extractor that gives no text calls the page "not an article"
            score.kind.append((res.kind == "article") == (case.kind == "article"))
            page["kind"] = res.kind
        score.per_page[case.name] = page
    return score


def fmt(value: float | None, digits: int = 3) -> str:
    return "   -  " if value is None else f"{value:.{digits}f}"


def print_table(set_name: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n== {set_name} ==")
    print(
        f"{'extractor':<14} {'body F1':>8} {'date':>7} {'date*':>7} {'title':>7} {'kind':>7} {'docs/s':>8}"
        "   n(body/date/title/kind)"
    )
    for name, r in rows.items():
        print(
            f"{name:<14} {fmt(r['body_f1']):>8} {fmt(r['date']):>7} {fmt(r['date*']):>7} "
            f"{fmt(r['title']):>7} {fmt(r['kind']):>7} {fmt(r['docs_per_s'], 1):>8}"
            f"   {r['n_body']}/{r['n_date']}/{r['n_title']}/{r['n_kind']}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cwced", type=Path, default=DEFAULT_CWCED, help="cwced folder (original/, cleaned/, date/)")
    ap.add_argument("--gne", type=Path, default=DEFAULT_GNE, help="gne pages folder (answers in tests/data)")
    ap.add_argument("--no-replica", action="store_true", help="skip the replica pages")
    ap.add_argument("--only", action="append", choices=sorted(EXTRACTORS), help="run only these extractors")
    ap.add_argument("--repeat", type=int, default=1, help="time each page this many times")
    ap.add_argument("--pages", action="store_true", help="print per-page scores of Policy Radar")
    ap.add_argument("--json", type=Path, help="write the scores here as JSON")
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    sets: dict[str, list[Case]] = {}
    cwced = args.cwced
    if not cwced.exists() and cwced == DEFAULT_CWCED and FALLBACK_CWCED.exists():
        cwced = FALLBACK_CWCED
    if cwced.exists():
        sets["cwced"] = load_cwced(cwced)
    else:
        print(f"cwced not found at {args.cwced}", file=sys.stderr)
    gne_cases = load_gne(args.gne) if args.gne.exists() else []
    if gne_cases:
        sets["gne"] = gne_cases
    else:
        print(f"gne: no labelled pages at {args.gne}", file=sys.stderr)
    if not args.no_replica:
        replica = load_replica()
        if replica:
            sets["replica"] = replica
        else:
            print("replica: crawler.replica.build_sites() not available or no article pages; skipped")

    report: dict[str, Any] = {}
    for set_name, cases in sets.items():
        rows = {}
        for name in args.only or list(EXTRACTORS):
            score = run(cases, name, EXTRACTORS[name], args.repeat)
            rows[name] = score.row()
            if args.pages and name == "policy-radar":
                for page, info in score.per_page.items():
                    print(f"  {page} {info}")
        print_table(f"{set_name} ({len(cases)} pages)", rows)
        report[set_name] = rows
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
