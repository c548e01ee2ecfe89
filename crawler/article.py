"""The cleaned article: what extraction returns and what storage persists.

An :class:`Article` is plain data. Extraction builds it from HTML bytes and a URL; dedupe and
storage read it; nothing in here touches the network, a database or the clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Attachment:
    """A linked document (PDF, DOCX …) whose text is stored with its article."""

    name: str
    url: str
    sha256: str = ""
    text: str = ""
    content_type: str = ""
    size: int = 0


@dataclass
class Article:
    """A page reduced to its text and metadata.

    ``body`` keeps paragraphs separated by a single ``\\n``; table rows are kept as lines with
    tab-separated cells. ``provenance`` maps each filled field name to where it came from
    (``"meta:PubDate"``, ``"selector"``, ``"block:发布日期"``, ``"rule:date-near-title"`` …).
    Datetimes are timezone-aware (Asia/Shanghai unless the page says otherwise).
    """

    url: str
    title: str = ""
    body: str = ""
    published_at: datetime | None = None
    written_at: datetime | None = None
    source_name: str = ""  # 来源: who the page credits (大江网, 新华社 …)
    author: str = ""
    doc_number: str = ""  # 发文字号, e.g. 赣市发〔2022〕5号
    issuer: str = ""  # 发文机关
    index_no: str = ""  # 索引号
    category: str = ""  # 主题分类 / column name
    region: str = ""  # most specific place the article is about, e.g. 江西省赣州市
    encoding: str = ""
    garbled_score: float = 0.0  # share of U+FFFD / mojibake characters in the decoded text
    attachments: list[Attachment] = field(default_factory=list)
    attachment_links: list[tuple[str, str]] = field(default_factory=list)  # (name, absolute url)
    provenance: dict[str, str] = field(default_factory=dict)
    # e-paper position (edition date, page number, page name) when the page is a newspaper story
    epaper_page: int | None = None
    epaper_page_name: str = ""
    continues_to: int | None = None  # 下转第N版
    continued_from: int | None = None  # 上接第N版
    part_urls: list[str] = field(default_factory=list)  # further pages this article was joined from

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601 strings)."""
        d = asdict(self)
        for key in ("published_at", "written_at"):
            value = d[key]
            d[key] = value.isoformat() if value is not None else None
        d["attachment_links"] = [list(x) for x in self.attachment_links]
        return d
