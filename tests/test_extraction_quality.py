"""Quality gate: mean body F1 and date accuracy of ``extract`` over the cwced copy, and body F1,
date and title accuracy over the gne pages (``../shared/pages/gne`` with the hand-written
answers in tests/data/extraction/gne; skipped when the pages are not beside the repo).

Floors live in tests/data/extraction/baseline.json; they are what the extractor reaches now
(rounded down a little), so a change that makes extraction worse fails here.  Raise them when
extraction gets better.  The metrics are the ones bench/extraction.py reports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from crawler.extraction import extract
from crawler.extraction.scoring import char_f1, date_matches, load_answers, parse_date_answer

DATA = Path(__file__).parent / "data"
CWCED = DATA / "cwced"
BASELINE = json.loads((DATA / "extraction" / "baseline.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def scores() -> dict[str, float]:
    f1s: list[float] = []
    strict: list[bool] = []
    lenient: list[bool] = []
    for page in sorted((CWCED / "original").glob("*.html")):
        art = extract(page.read_bytes(), f"http://cwced.invalid/{page.stem}.html")
        f1s.append(char_f1(art.body, (CWCED / "cleaned" / f"{page.stem}.txt").read_text("utf-8-sig")))
        answer = parse_date_answer((CWCED / "date" / f"{page.stem}.txt").read_text("utf-8-sig"))
        if answer is None:
            continue
        published = art.published_at.date() if art.published_at else None
        written = art.written_at.date() if art.written_at else None
        strict.append(date_matches(published, answer))
        # the cwced answer is sometimes the 成文日期, which we report as written_at
        lenient.append(strict[-1] or date_matches(written, answer))
    return {
        "pages": len(f1s),
        "body_f1": sum(f1s) / len(f1s),
        "date_accuracy": sum(strict) / len(strict),
        "date_accuracy_with_written": sum(lenient) / len(lenient),
    }


def test_all_pages_were_scored(scores: dict[str, float]) -> None:
    assert scores["pages"] == 69


@pytest.mark.parametrize("metric", ["body_f1", "date_accuracy", "date_accuracy_with_written"])
def test_metric_at_or_above_floor(scores: dict[str, float], metric: str) -> None:
    assert scores[metric] >= BASELINE[metric], f"{metric} fell to {scores[metric]:.4f} (floor {BASELINE[metric]})"


# --------------------------------------------------------------------------- the gne set

GNE_PAGES = Path(__file__).resolve().parents[2] / "shared" / "pages" / "gne"
GNE_FLOORS = BASELINE["gne"]
_WS = re.compile(r"\s+")


@pytest.fixture(scope="module")
def gne_scores() -> dict[str, float]:
    """The gne pages' scores as bench/extraction.py computes them: body F1 on every article,
    date at the answer's precision where it has one, title after whitespace is taken out."""
    if not GNE_PAGES.is_dir():
        pytest.skip(f"gne pages not found at {GNE_PAGES}")
    f1s: list[float] = []
    dates: list[bool] = []
    titles: list[bool] = []
    for entry in load_answers(DATA / "extraction" / "gne"):
        page = GNE_PAGES / str(entry["page"])
        if entry.get("kind", "article") != "article" or not page.is_file():
            continue
        art = extract(page.read_bytes(), str(entry.get("url") or f"http://gne.invalid/{page.name}"))
        f1s.append(char_f1(art.body, str(entry["body"])))
        answer = parse_date_answer(str(entry["published"])) if entry.get("published") else None
        if answer is not None:
            dates.append(date_matches(art.published_at.date() if art.published_at else None, answer))
        if entry.get("title"):
            titles.append(_WS.sub("", art.title) == _WS.sub("", str(entry["title"])))
    return {
        "pages": len(f1s),
        "body_f1": sum(f1s) / len(f1s),
        "date_accuracy": sum(dates) / len(dates),
        "title_accuracy": sum(titles) / len(titles),
    }


def test_all_gne_pages_were_scored(gne_scores: dict[str, float]) -> None:
    assert gne_scores["pages"] == 53


@pytest.mark.parametrize("metric", ["body_f1", "date_accuracy", "title_accuracy"])
def test_gne_metric_at_or_above_floor(gne_scores: dict[str, float], metric: str) -> None:
    floor = GNE_FLOORS[metric]
    assert gne_scores[metric] >= floor, f"gne {metric} fell to {gne_scores[metric]:.4f} (floor {floor})"
