"""Extraction chain: HTML bytes + URL in, an :class:`~crawler.article.Article` out.

Pure functions only; the network is touched by spiders, never here.

* :func:`extract` — one page to one Article (body, dates, source, 发文字号, region …);
* :func:`decode_html` — bytes to text, surviving missing or lying charsets;
* :func:`attachment_text` — text of a downloaded PDF/DOCX attachment;
* :func:`join_continuations` — e-paper stories split by 下转第N版 joined back together.
"""

from crawler.extraction.attachments import AttachmentError, UnsupportedAttachmentError, attachment_text
from crawler.extraction.dates import find_dates, parse_date
from crawler.extraction.decode import decode_html
from crawler.extraction.epaper import join_continuations
from crawler.extraction.pipeline import extract

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
