"""Canonical URLs and body hashes."""

from __future__ import annotations

import pytest

from crawler.dedupe import canonical_url, content_hash


@pytest.mark.parametrize(("a", "b"), [
    ("HTTP://Example.gov.cn:80/a/index.html", "http://example.gov.cn/a/"),
    ("http://x.cn/a/b.html#top", "http://x.cn/a/b.html"),
    ("http://x.cn/a?b=2&a=1&utm_source=wx", "http://x.cn/a?a=1&b=2"),
    ("https://x.cn:443/list/default.htm", "https://x.cn/list/"),
])
def test_same_page_same_url(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


def test_different_pages_stay_apart() -> None:
    assert canonical_url("http://x.cn/a?id=1") != canonical_url("http://x.cn/a?id=2")
    assert canonical_url("http://x.cn/a") != canonical_url("https://x.cn/a")
    assert canonical_url("http://x.cn:8080/a") != canonical_url("http://x.cn/a")


def test_hash_folds_spacing_width_and_punctuation() -> None:
    a = "南宁市集中开工97个重大项目，总投资772.67亿元。\n\n项目涵盖产业发展。"
    b = "南宁市集中开工９７个重大项目, 总投资772.67亿元.  项目涵盖产业发展"
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(a.replace("97", "98"))
