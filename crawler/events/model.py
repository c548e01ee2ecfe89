"""The event record the detector returns and storage persists."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventType = Literal["signing", "opening", "trade"]
EVENT_TYPES: tuple[EventType, ...] = ("signing", "opening", "trade")

# Where a project stands, in the order a project passes through: signed → started → producing or
# completed → opened.  Trade figures have no stage.
Stage = Literal["signed", "started", "producing", "completed", "opened", ""]
STAGE_OF_SUBTYPE: dict[str, Stage] = {
    "agreement": "signed", "project": "signed", "aggregate": "signed",
    "groundbreaking": "started", "production": "producing", "completion": "completed", "business": "opened",
}
# Where an event's region came from: the passage itself, the article around it (title, opening,
# paragraph), or — when the article names no place — ``region_hint``, the article's region as its
# page metadata and its source's configured region give it (Article.region).
RegionFrom = Literal["text", "article", "source", ""]


@dataclass
class Event:
    """One event stated in one passage of text.

    ``amount_text`` is the amount as written (``约772.67亿元``); ``amount`` is its value in
    ``currency`` units (yuan for CNY); ``amount_cny`` is the same in yuan when the currency is CNY
    (``None`` for foreign currencies, which are never converted at a guessed rate).
    ``start``/``end`` are character offsets of ``evidence`` in the text passed to the detector.
    ``stage`` follows from the subtype (:data:`STAGE_OF_SUBTYPE`).  ``retrospective`` marks an
    event whose period ended well before the article was published (history, not news).
    ``details`` holds the breakdowns folded into a trade figure (by product, partner, enterprise
    type or month), each ``{"evidence", "subtype", "amount", "currency", "growth_pct"}``.
    """

    type: EventType
    subtype: str = ""
    amount_text: str = ""
    amount: float | None = None
    currency: str = ""
    amount_cny: float | None = None
    qualifier: str = ""  # 约 / 超 / 逾 / 多 / 近 …
    project_count: int | None = None
    growth_pct: float | None = None
    period: str = ""
    region: str = ""
    region_from: RegionFrom = ""
    stage: Stage = ""
    retrospective: bool = False
    details: list[dict[str, Any]] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)
    evidence: str = ""
    start: int = 0
    end: int = 0
    confidence: float = 0.0
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)
