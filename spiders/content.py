"""What a fetched article response really is, judged from its bytes and its Content-Type.

Scrapy picks a response's class from the Content-Type and, when that names nothing it knows
(``image/png``, ``application/octet-stream``), from the URL: a PNG at ``/art/1.html`` became an
HTML page and was stored as an article. :func:`page_kind` looks at the content instead.
"""

from __future__ import annotations

import json

HTML = "html"
PDF = "pdf"

# leading bytes of formats that are never a web page
_MAGIC = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"PK\x03\x04", "archive"),  # zip, docx, xlsx, ofd
    (b"\x1f\x8b", "archive"),  # gzip (a Content-Encoding one is already decoded)
    (b"Rar!\x1a\x07", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "binary"),  # .doc, .xls, .wps
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Content-Types (before any ``;``) that are never a web page, by prefix
_DECLARED = (
    ("application/pdf", PDF),
    ("image/", "image"),
    ("audio/", "media"),
    ("video/", "media"),
    ("font/", "binary"),
    ("application/json", "json"),
    ("application/zip", "archive"),
    ("application/x-rar", "archive"),
    ("application/gzip", "archive"),
    ("application/msword", "binary"),
    ("application/vnd.", "binary"),
)
_MARKUP = (b"<html", b"<!doctype", b"<head", b"<body", b"<div", b"<p", b"<table", b"<meta", b"<title")


def _looks_like_json(body: bytes) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start not in (b"{", b"["):
        return False
    try:
        json.loads(body)
    except ValueError:  # JSON- or text-like but not JSON: a page that starts oddly
        return False
    return True


def page_kind(body: bytes, content_type: str) -> str:
    """``"html"`` for a page to extract, ``"pdf"`` for a PDF, or what else it is, as the reason
    to skip it: ``"image"``, ``"media"``, ``"archive"``, ``"json"``, ``"binary"``.

    The bytes decide first (a PNG declared ``text/html`` is an image), then the declared type;
    a body declared ``application/octet-stream`` or nothing at all is a page only when it looks
    like markup, and a body with NUL bytes (not UTF-16) is never one."""
    for magic, kind in _MAGIC:
        if body.startswith(magic):
            return kind
    declared = content_type.split(";", 1)[0].strip().lower()
    for prefix, kind in _DECLARED:
        if declared.startswith(prefix):
            return kind
    if declared.endswith("+json") or _looks_like_json(body):
        return "json"
    head = body[:2048]
    if b"\x00" in head and not head.startswith(_TEXT_BOMS):
        return "binary"
    if declared in ("", "application/octet-stream", "binary/octet-stream"):
        lowered = head.lower()
        return HTML if any(tag in lowered for tag in _MARKUP) else "binary"
    return HTML


__all__ = ["HTML", "PDF", "page_kind"]
