"""Canonical URLs and body hashes."""

from __future__ import annotations

import itertools

import pytest

import crawler.dedupe.urls
from crawler.dedupe.urls import canonical_url, content_hash, document_key
from crawler.replica import build_sites


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


@pytest.mark.parametrize(("mobile", "desktop"), [
    ("http://m.jxnews.com.cn/system/2025/07/02/1.shtml", "http://www.jxnews.com.cn/system/2025/07/02/1.shtml"),
    ("https://wap.ganzhou.gov.cn/zwgk/index.html", "https://www.ganzhou.gov.cn/zwgk/"),
    ("http://3g.x.com.cn/a.html?utm_source=wx", "http://www.x.com.cn/a.html"),
])
def test_mobile_hosts_fold_to_the_site(mobile: str, desktop: str) -> None:
    assert canonical_url(mobile) == canonical_url(desktop)


@pytest.mark.parametrize("url", [
    "http://m.gov.cn/a.html",  # a registry suffix is not a site with a mobile edition
    "http://m.cn/a.html",
    "http://mall.x.com.cn/a.html",  # only a whole "m." label is a mobile marker
    "http://127.0.0.1:8362/m/a.html",
])
def test_other_hosts_stay(url: str) -> None:
    assert canonical_url(url).split("/")[2] == url.split("/")[2].lower()


def test_plain_links_take_the_short_path_to_the_same_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links in plain form skip the general path (urlsplit, parse_qsl, w3lib); whatever the link,
    both give the same canonical form."""
    general = crawler.dedupe.urls._canonical_url
    taken: list[str] = []

    def counted(url: str) -> str:
        taken.append(url)
        return general(url)

    monkeypatch.setattr(crawler.dedupe.urls, "_canonical_url", counted)
    uncached = canonical_url.__wrapped__  # type: ignore[attr-defined]
    hosts = ["www.jxnews.com.cn", "m.jxnews.com.cn", "WWW.X.CN", "127.0.0.1", "m.gov.cn", "wap.ganzhou.gov.cn",
             "a-b.c", "xn--fiq228c.cn", "-bad.cn", "a..b", "x.cn.", "中文.cn", "m.127.0.0.1"]
    ports = ["", ":80", ":443", ":8080", ":080", ":65535", ":65536", ":99999", ":0", ":"]
    paths = ["", "/", "/a/index.html", "/a/INDEX.HTML", "/a/index.shtml", "/list/default.aspx", "/a/./b",
             "/a/../b", "/a/b/..", "/a/.", "/.well-known/x", "/a~b/c_d-e.f", "/a//b", "/a%20b", "/a%7Eb",
             "/中文.html", "/a b", "/a/b.", "/x.shtml", "/A/B.HTML"]
    tails = ["", "?", "#", "?a=1", "#top", "?utm_source=wx", " "]
    urls = [f"{scheme}://{host}{port}{path}{tail}" for scheme, host, port, path, tail in
            itertools.product(["http", "https", "HTTP", "ftp"], hosts, ports, paths, tails)]
    articles = [f"http://127.0.0.1:8362{path}" for site in build_sites().values()
                for path, page in site.items() if page.expected]
    short = []
    for url in urls + articles:
        taken.clear()
        try:
            want = general(url)
        except ValueError:  # a port out of range: both refuse it
            with pytest.raises(ValueError):
                uncached(url)
            continue
        assert uncached(url) == want, url
        if not taken:
            short.append(url)
    assert set(articles) <= set(short)  # the replica sites' article links took the short path
    assert "http://m.jxnews.com.cn:8080/a/index.html" in short
    assert not any("?" in url or "%" in url or "/." in url or "HTTP" in url for url in short)


def test_document_key_folds_how_a_number_is_typed() -> None:
    same = ["赣市发〔2022〕5号", "赣市发[2022]5号", "赣市发（2022）05号", "赣市发 〔2022〕 第5号", "赣市发［2022］5号"]
    assert {document_key(n) for n in same} == {"赣市发〔2022〕5号"}
    assert document_key("赣市发〔2022〕6号") != document_key("赣市发〔2022〕5号")
    assert document_key("赣市发〔2021〕5号") != document_key("赣市发〔2022〕5号")
    # a bare number names a document only together with its issuer
    assert document_key("〔2022〕5号") == ""
    assert document_key("〔2022〕5号", "赣州市人民政府") == "赣州市人民政府|〔2022〕5号"
    assert document_key("〔2022〕5号", "赣州市人民政府") != document_key("〔2022〕5号", "南昌市人民政府")
    assert document_key("", "赣州市人民政府") == ""
