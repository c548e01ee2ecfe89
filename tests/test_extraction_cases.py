"""Data-driven extraction cases: tests/data/extraction/*.yaml (page → expected fields).

Each case names a page file (relative to tests/data/extraction/), optionally the URL, fetch
time, headers, selectors and hints to call ``extract`` with, and what must come out:
``expect`` (field → value; dates compare at the precision written), ``provenance``
(field → source), ``attachment_links``, ``body_contains`` / ``body_not_contains``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.article import Article
from crawler.extraction import extract
from crawler.extraction.dates import SHANGHAI

DATA = Path(__file__).parent / "data" / "extraction"


def _cases() -> list[Any]:
    params = []
    for path in sorted(DATA.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(path.read_text("utf-8")) or []):
            params.append(pytest.param(case, id=f"{path.stem}-{i}-{Path(case['page']).stem[:24]}"))
    return params


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=SHANGHAI)
    return datetime.fromisoformat(str(value)).replace(tzinfo=SHANGHAI)


def _check_date(field: str, got: datetime | None, want: Any) -> None:
    assert got is not None, f"{field}: nothing extracted, expected {want}"
    if isinstance(want, datetime) or (isinstance(want, str) and ":" in want):
        expected = _when(want)
        assert expected is not None
        assert got.replace(second=0) == expected, f"{field}: {got} != {want}"
    else:
        expected_day = want if isinstance(want, date) else date.fromisoformat(str(want))
        assert got.date() == expected_day, f"{field}: {got} != {want}"
    assert got.tzinfo is not None


def _run(case: dict[str, Any]) -> Article:
    body = (DATA / case["page"]).read_bytes()
    return extract(
        body,
        case.get("url", "http://example.invalid/" + Path(case["page"]).name),
        headers=case.get("headers"),
        fetched_at=_when(case.get("fetched_at")),
        selectors=case.get("selectors"),
        encoding_hint=case.get("encoding_hint", ""),
        region_hint=case.get("region_hint", ""),
    )


@pytest.mark.parametrize("case", _cases())
def test_case(case: dict[str, Any]) -> None:
    art = _run(case)
    for field, want in (case.get("expect") or {}).items():
        got = getattr(art, field)
        if field in ("published_at", "written_at"):
            _check_date(field, got, want)
        else:
            assert got == want, f"{field}: {got!r} != {want!r}"
    for field, want in (case.get("provenance") or {}).items():
        assert art.provenance.get(field) == want, f"provenance of {field}: {art.provenance.get(field)!r}"
    if "attachment_links" in case:
        assert art.attachment_links == [tuple(x) for x in case["attachment_links"]]
    for snippet in case.get("body_contains") or []:
        assert snippet in art.body, f"body lacks {snippet!r}"
    for snippet in case.get("body_not_contains") or []:
        assert snippet not in art.body, f"body has {snippet!r}"


def test_there_are_cases() -> None:
    assert len(_cases()) >= 15
