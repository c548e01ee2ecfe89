"""Plain-text tables for a terminal: cells padded to the width they take on screen.

A CJK character takes two columns, so ``len`` would misalign a table of Chinese titles.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(s: str) -> int:
    """Columns ``s`` takes on a terminal: two for each wide or full-width character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def pad(s: str, width: int) -> str:
    """``s`` followed by spaces up to ``width`` columns (unchanged when it is that wide already)."""
    return s + " " * max(0, width - display_width(s))


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """The display width of each column: its widest cell over ``rows`` (all of one length)."""
    return [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []


def pad_row(row: Sequence[str], widths: Sequence[int], gap: str = "  ") -> str:
    """``row``'s cells padded to ``widths`` and joined by ``gap`` (the last cell padded too)."""
    return gap.join(pad(v, w) for v, w in zip(row, widths, strict=True))


__all__ = ["column_widths", "display_width", "pad", "pad_row"]
