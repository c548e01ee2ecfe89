"""A few hundred seeded mutations of real pages through ``extract()`` and the event detector:
nothing raises, and no page uses more CPU time than extract's budget (issue 26, items 10–12).

The pages and mutations are bench/fuzz.py's (which runs ten thousand and more, at full size);
here the floods and runs are a quarter of their size, so that the run takes under a minute.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.fuzz import GNE, MUTATIONS, corpus, mutated, run
from crawler.extraction.limits import TIME_BUDGET

PAGES = 600
SCALE = 0.25
GNE_DIR = Path(os.environ.get("FUZZ_GNE_DIR", str(GNE)))


def test_the_mutations_are_seeded_and_cover_every_kind() -> None:
    pages = corpus(GNE_DIR)
    assert len(pages) >= 70  # the cwced copy and the seed pages at least
    first = list(mutated(pages, 50, seed=7, scale=SCALE))
    assert first == list(mutated(pages, 50, seed=7, scale=SCALE))
    used = {name for what, _ in mutated(pages, PAGES, seed=0, scale=SCALE) for name in what.split("+")[1:]}
    assert used == set(MUTATIONS)


def test_mutated_pages_neither_crash_nor_overrun_their_budget() -> None:
    report = run(PAGES, seed=0, scale=SCALE, gne=GNE_DIR)
    assert report.pages == PAGES
    assert not report.crashes, report.crashes[0][1]
    assert not report.over_budget
    assert max(report.extract_seconds) < TIME_BUDGET
    assert report.refused > 0  # the floods met the size limits: the check is not vacuous
