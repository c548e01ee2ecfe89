"""Extraction chain: HTML bytes + URL in, an :class:`~crawler.article.Article` out.

Pure functions only; the network is touched by spiders, never here.

* :func:`extract` — one page to one Article (body, dates, source, 发文字号, region …);
* :func:`decode_html` — bytes to text, surviving missing or lying charsets;
* :func:`attachment_text` — text of a downloaded PDF/DOCX attachment;
* :func:`join_continuations` — e-paper stories split by 下转第N版 joined back together.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.extraction.attachments import AttachmentError, UnsupportedAttachmentError, attachment_text
    from crawler.extraction.dates import find_dates, parse_date
    from crawler.extraction.decode import decode_html
    from crawler.extraction.epaper import join_continuations
    from crawler.extraction.pipeline import extract

# name → the module that defines it. Loaded on first use (PEP 562), so that a crawl process
# importing one light module (dates, pagination, links) does not load the whole extractor,
# which its worker processes run
_HOMES = {
    "AttachmentError": "attachments",
    "UnsupportedAttachmentError": "attachments",
    "attachment_text": "attachments",
    "find_dates": "dates",
    "parse_date": "dates",
    "decode_html": "decode",
    "join_continuations": "epaper",
    "extract": "pipeline",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "AttachmentError",
    "UnsupportedAttachmentError",
    "attachment_text",
    "decode_html",
    "extract",
    "find_dates",
    "join_continuations",
    "parse_date",
]
