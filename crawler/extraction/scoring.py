"""How extraction quality is measured (shared by bench/extraction.py and the quality-gate test).

* :func:`char_f1` — F1 over character bigrams with all whitespace removed, so paragraph and
  indentation differences do not count but missing or extra text does;
* :func:`date_matches` — a date agrees with an answer at the answer's own precision
  (day, or month / year when that is all the answer gives);
* :func:`parse_date_answer` — reads answers written as "YYYY-M-D H:M:S" with parts missing;
* :func:`load_answers` — the hand-written answers of a labelled page set (the gne pages).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["bigrams", "char_f1", "date_matches", "load_answers", "parse_date_answer"]

_WS = re.compile(r"\s+")
_DATE_ANSWER = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")

DayAnswer = tuple[int, int | None, int | None]


def bigrams(text: str) -> Counter[str]:
    """Multiset of adjacent character pairs of ``text`` with whitespace removed."""
    s = _WS.sub("", text)
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def char_f1(pred: str, gold: str) -> float:
    """Bigram F1 of ``pred`` against ``gold`` (1.0 when both are empty)."""
    p, g = bigrams(pred), bigrams(gold)
    if not p or not g:
        return 1.0 if not p and not g else 0.0
    overlap = sum((p & g).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(p.values())
    recall = overlap / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def date_matches(pred: date | None, gold: DayAnswer) -> bool:
    """True when ``pred`` has the answer's year, and its month/day where the answer has them."""
    if pred is None:
        return False
    y, m, d = gold
    return pred.year == y and (m is None or pred.month == m) and (d is None or pred.day == d)


def parse_date_answer(text: str) -> DayAnswer | None:
    """(year, month|None, day|None) from "YYYY-M-D ..."; None for UNKNOWN, empty or garbage."""
    m = _DATE_ANSWER.match(text)
    if not m:
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3)
    return int(y), int(mo) if mo else None, int(d) if d else None


def load_answers(folder: Path) -> list[dict[str, Any]]:
    """The labelled entries of ``folder``'s ``answers*.yaml`` files (format: the labelling guide),
    in file order, keeping only those whose body file exists when ``kind`` is ``article``:
    answers are written page by page, and a page without its body answer is not labelled yet.
    Each entry's ``body`` is replaced by the answer text ('' for pages that are not articles)."""
    import yaml

    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("answers*.yaml")):
        for entry in yaml.safe_load(path.read_text("utf-8")) or []:
            if not isinstance(entry, dict) or "page" not in entry:
                continue
            entry = dict(entry)
            if entry.get("kind", "article") == "article":
                body_file = folder.parent / str(entry.get("body", ""))
                if not entry.get("body") or not body_file.is_file():
                    continue
                entry["body"] = body_file.read_text("utf-8-sig")
            else:
                entry["body"] = ""
            out.append(entry)
    return out
