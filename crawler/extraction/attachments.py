"""Attachment links on article pages, and the text of downloaded attachment files.

Downloading happens elsewhere (spiders); this module only finds the links and reads bytes.
"""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
from functools import lru_cache
from urllib.parse import unquote, urljoin, urlsplit

from crawler.extraction.dom import ATTR_SCAN, HtmlElement, text_of
from crawler.text.normalize import normalize_lines, normalize_text

__all__ = [
    "ATTACHMENT_EXTENSIONS",
    "ATTACHMENT_HREF",
    "MAY_LINK_ATTACHMENT",
    "AttachmentError",
    "UnsupportedAttachmentError",
    "attachment_links",
    "attachment_text",
    "check_archive",
    "is_attachment_href",
]

# The one attachment rule: what a document link looks like. The spider downloads the links it
# matches (``spiders.base``), the extractor lists them (:func:`attachment_links`) and keeps blocks
# that hold them in the body (``crawler.extraction.body``, ``crawler.extraction.kind``).
#: File extensions of the documents an article links to (its 附件).
ATTACHMENT_EXTENSIONS = ("pdf", "doc", "docx", "wps", "xls", "xlsx", "et", "ofd", "zip", "rar", "txt", "ppt", "pptx")
_EXTENSION = "(?:" + "|".join(ATTACHMENT_EXTENSIONS) + ")"
#: An href (or its path) that names a document file: the extension ends it or its path.
ATTACHMENT_HREF = re.compile(r"\." + _EXTENSION + r"(?:$|[?#;])", re.I)
#: Raw page bytes that may link a document: a cheap test before a page's links are parsed.
MAY_LINK_ATTACHMENT = re.compile(rb"\." + _EXTENSION.encode() + rb"\b", re.I)
# Download endpoints that hide the extension but name the file in the query (download.jsp?…a.pdf)
_DOWNLOAD_RE = re.compile(r"(?:download|downfile|attach|fujian|filedown)[^?]*\?.*\." + _EXTENSION + r"(?![a-z0-9])",
                          re.I)


class AttachmentError(Exception):
    """An attachment could not be read."""


class UnsupportedAttachmentError(AttachmentError):
    """The attachment's format has no text extractor here (``.doc``, ``.wps``, images …)."""


# What an archive (DOCX, XLSX, OFD, ZIP) may unpack to, checked on its directory before any member
# is read: a 1.5 MB DOCX of zeros unpacked to 1.5 GB, and took 3.1 GB before lxml refused it.
MAX_UNPACKED = 200 * 1024 * 1024  # bytes, all members together
MAX_RATIO = 100  # unpacked / packed size of one member (DOCX text parts compress 5–20 times)
RATIO_FLOOR = 1024 * 1024  # members that unpack to less are not held to MAX_RATIO
MAX_MEMBERS = 10_000
# What reading a PDF may take: pypdf bounds each stream it inflates itself; these bound the pages.
MAX_PDF_PAGES = 2_000
PDF_BUDGET = 30.0  # CPU seconds; the pages read by then are kept


# Templates repeat their links (navigation, footers) on every page: each href is judged once.
@lru_cache(maxsize=8192)
def is_attachment_href(href: str) -> bool:
    """``href`` (relative or absolute) links a document: its path ends in one of
    :data:`ATTACHMENT_EXTENSIONS`, or it is a download endpoint (``download.jsp?file=a.pdf``)."""
    if "?" in href and _DOWNLOAD_RE.search(href, 0, ATTR_SCAN):  # it needs a query: most links have none
        return True
    # a match in the path is a match in the whole href (the path ends it, or a ?, # or ; does):
    # most links of a page fail here, without splitting them
    return bool(ATTACHMENT_HREF.search(href)) and bool(ATTACHMENT_HREF.search(urlsplit(href).path))


def _labelled_attachment(a: HtmlElement) -> bool:
    """The link sits in something that says 附件 (its text, or a near ancestor's text)."""
    if "附件" in text_of(a):
        return True
    node = a.getparent()
    for _ in range(3):
        if node is None:
            return False
        own = (node.text or "") + "".join((c.tail or "") for c in node)
        if "附件" in own:
            return True
        node = node.getparent()
    return False


def attachment_links(root: HtmlElement, body: HtmlElement | None, base_url: str) -> list[tuple[str, str]]:
    """(name, absolute URL) of document links in the main text, or labelled 附件 anywhere.

    The name is the link text (or the file name from the URL when the link has no text);
    duplicates (same URL) are dropped, page order is kept.
    """
    base = base_url
    base_el = root.find(".//base")
    if base_el is not None and base_el.get("href"):
        base = urljoin(base_url, base_el.get("href", ""))
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    in_body = set(body.iter("a")) if body is not None else set()
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("javascript:", "mailto:", "#")):
            continue
        if not is_attachment_href(href):
            continue
        if a not in in_body and not _labelled_attachment(a):
            continue
        url = urljoin(base, href)
        if url in seen:
            continue
        seen.add(url)
        name = normalize_text(text_of(a)) or normalize_text(a.get("title") or "")
        if not name:
            name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        out.append((name, url))
    return out


def attachment_text(data: bytes, name: str, content_type: str = "") -> str:
    """Plain text of a downloaded attachment.

    PDF via pypdf (page texts joined by newlines); DOCX via python-docx (paragraphs, then
    each table as tab-separated rows, in document order).  The format is taken from the bytes
    first (``%PDF``, a ZIP with ``word/document.xml``), then from ``content_type`` and the
    file name.  Raises :class:`UnsupportedAttachmentError` for anything else (legacy
    ``.doc``/``.wps``, spreadsheets, images) and :class:`AttachmentError` for a broken file or
    an archive that would unpack to too much (see :func:`check_archive`).  A PDF is read for at
    most ``MAX_PDF_PAGES`` pages and ``PDF_BUDGET`` CPU seconds.
    """
    if data.startswith(b"PK"):
        check_archive(data)
    kind = _kind(data, name, content_type)
    if kind == "pdf":
        return _pdf_text(data)
    if kind == "docx":
        return _docx_text(data)
    raise UnsupportedAttachmentError(f"no text extractor for {name or 'attachment'} ({content_type or 'unknown type'})")


def check_archive(data: bytes) -> None:
    """Raise :class:`AttachmentError` unless the ZIP archive ``data`` is safe to open and read.

    Judged on the sizes its directory declares (zipfile stops reading a member at its declared
    size, so a member cannot unpack to more): at most ``MAX_MEMBERS`` members, ``MAX_UNPACKED``
    bytes in all, and no member over ``RATIO_FLOOR`` bytes packed more than ``MAX_RATIO`` times.
    """
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))  # the end record, before the directory
    if end >= 0 and len(data) >= end + 12:
        (entries,) = struct.unpack_from("<H", data, end + 10)
        if entries > MAX_MEMBERS:  # 0xFFFF (ZIP64) included
            raise AttachmentError(f"archive of {entries:,} members (limit {MAX_MEMBERS:,})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise AttachmentError(f"unreadable archive: {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise AttachmentError(f"archive of {len(members):,} members (limit {MAX_MEMBERS:,})")
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED:
        raise AttachmentError(f"archive unpacks to {total:,} bytes (limit {MAX_UNPACKED:,})")
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise AttachmentError(
                f"archive member {m.filename!r} unpacks {m.file_size // max(m.compress_size, 1):,} times "
                f"its size (limit {MAX_RATIO})"
            )


def _kind(data: bytes, name: str, content_type: str) -> str:
    head = data[:1024]
    if b"%PDF" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if "word/document.xml" in zf.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            pass
    ctype = content_type.lower()
    lname = name.lower()
    if "pdf" in ctype or lname.endswith(".pdf"):
        return "pdf"
    if "wordprocessingml" in ctype or lname.endswith(".docx"):
        return "docx"
    return ""


def _pdf_text(data: bytes) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        reader = PdfReader(io.BytesIO(data))
        deadline = time.thread_time() + PDF_BUDGET
        pages: list[str] = []
        for number, page in enumerate(reader.pages):
            if number >= MAX_PDF_PAGES or time.thread_time() > deadline:
                break  # the text so far is kept: a long report's first pages say what it is
            pages.append(page.extract_text() or "")
    except (PdfReadError, ValueError, KeyError, OSError, RecursionError) as exc:
        raise AttachmentError(f"unreadable PDF: {exc}") from exc
    return normalize_lines("\n".join(pages))


def _docx_text(data: bytes) -> str:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except (ValueError, KeyError, zipfile.BadZipFile, SyntaxError) as exc:  # lxml's XMLSyntaxError is one
        raise AttachmentError(f"unreadable DOCX: {exc}") from exc
    lines: list[str] = []
    body = document.element.body
    # walk the body in order so tables stay where they were between paragraphs
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
        elif tag == "tbl":
            table = Table(child, document)
            for row in table.rows:
                cells: list[str] = []
                previous = None
                for cell in row.cells:
                    # a horizontally merged cell is reported once per grid column, all
                    # backed by the same <w:tc>: keep one copy
                    if previous is not None and cell._tc is previous:
                        continue
                    previous = cell._tc
                    cells.append(" ".join(cell.text.split()))
                lines.append("\t".join(cells))
    return normalize_lines("\n".join(lines))
