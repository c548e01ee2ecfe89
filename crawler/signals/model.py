"""The event record the detector returns and storage persists."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventType = Literal["signing", "opening", "trade"]
EVENT_TYPES: tuple[EventType, ...] = ("signing", "opening", "trade")


@dataclass
class Event:
    """One event stated in one passage of text.

    ``amount_text`` is the amount as written (``约772.67亿元``); ``amount`` is its value in
    ``currency`` units (yuan for CNY); ``amount_cny`` is the same in yuan when the currency is CNY
    (``None`` for foreign currencies, which are never converted at a guessed rate).
    ``start``/``end`` are character offsets of ``evidence`` in the text passed to the detector.
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
    parties: list[str] = field(default_factory=list)
    evidence: str = ""
    start: int = 0
    end: int = 0
    confidence: float = 0.0
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)
