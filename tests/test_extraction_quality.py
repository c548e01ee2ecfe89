"""Quality gate: mean body F1 and date accuracy of ``extract`` over the cwced copy.

Floors live in tests/data/extraction/baseline.json; they are what the extractor reaches now
(rounded down a little), so a change that makes extraction worse fails here.  Raise them when
extraction gets better.  The metrics are the ones bench/extraction.py reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.extraction import extract
from crawler.extraction.scoring import char_f1, date_matches, parse_date_answer

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
