"""Plain-text rendering of parsed HTML trees: one line per paragraph, tables as tab-separated rows.

``render`` is what the body extractor and the page-wide metadata scan read; it never changes the
tree.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.extraction.dom import BLOCK_TAGS, HtmlElement, text_of

__all__ = ["is_data_table", "render"]


def _flat(text: str) -> str:
    """Source line breaks and tabs as spaces (three C scans: str.translate looks every character
    of a Chinese text up in a dict, six times slower here)."""
    return text.replace("\n", " ").replace("\r", " ").replace("\t", " ")


def render(el: HtmlElement, skip: Callable[[HtmlElement], bool] | None = None) -> str:
    """Text of ``el``: block elements and ``<br>`` break lines, table cells become ``\\t``.

    ``skip(element)`` may veto any descendant (its tail text is still kept: it belongs to the
    parent).  The result is *not* normalised: callers run it through
    :func:`crawler.text.normalize.normalize_lines`.
    """
    out: list[str] = []
    tag = el.tag
    if isinstance(tag, str):
        _render(el, tag, out, skip, top=True)
    return "".join(out)


def _render(
    el: HtmlElement,
    tag: str,
    out: list[str],
    skip: Callable[[HtmlElement], bool] | None,
    top: bool = False,
    in_cell: bool = False,
) -> None:
    # ``tag`` is ``el.tag``, read once by the caller: lxml builds a new string at every read of
    # a tag or a text, and a page is rendered twice (its body, then the whole page)
    if not top and skip is not None and skip(el):
        return
    if tag == "table" and not in_cell and is_data_table(el):
        _render_table(el, out, skip)
        return
    # Inside a table cell, paragraphs and line breaks are the cell's own layout: they become
    # spaces so that each table row stays one line of tab-separated cells.
    if tag == "br":
        out.append(" " if in_cell else "\n")
        return
    if tag in ("td", "th"):
        out.append("\t")  # one tab before each cell: normalize_lines strips the line's first
    elif tag == "tr":
        out.append("\n")
    elif tag in BLOCK_TAGS or tag == "img":
        out.append(" " if in_cell else "\n")
    # a layout table's cells (not a data table: see is_data_table) keep their paragraphs
    _render_content(el, out, skip, in_cell)
    if tag in BLOCK_TAGS and tag not in ("td", "th"):
        out.append(" " if in_cell else "\n")


def _render_content(
    el: HtmlElement, out: list[str], skip: Callable[[HtmlElement], bool] | None, in_cell: bool
) -> None:
    """``el``'s own text and its children, each followed by its tail."""
    # Source line breaks and tabs are layout, not text: they become spaces, so only markup
    # decides where lines and cells break.
    text = el.text
    if text:
        out.append(_flat(text))
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            _render(child, tag, out, skip, in_cell=in_cell)
        tail = child.tail
        if tail:
            out.append(_flat(tail))


def _span(cell: HtmlElement, name: str) -> int:
    try:
        return max(1, min(int(cell.get(name) or 1), 100))
    except ValueError:
        return 1


_CELL_BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4")


def is_data_table(table: HtmlElement) -> bool:
    """Whether ``table`` holds data (rows of short cells) rather than page layout.

    Old CMS templates lay whole pages out in tables; their cells hold paragraphs, which must
    keep their line breaks. A data table has no table inside it and no cell with many blocks
    or a long text."""
    if next(table.iterdescendants("table"), None) is not None:
        return False
    widths = sorted(sum(1 for c in tr if c.tag in ("td", "th")) for tr in table.iter("tr"))
    if len(widths) < 3 or widths[len(widths) // 2] < 2:  # a grid has rows of several cells
        return False
    for cell in table.iter("td", "th"):
        blocks = sum(1 for _ in cell.iter(*_CELL_BLOCKS))
        if blocks >= 4 or len(text_of(cell)) > 800:
            return False
    return True


def _render_table(table: HtmlElement, out: list[str], skip: Callable[[HtmlElement], bool] | None) -> None:
    """One line per row, cells joined by single tabs, kept in their columns: a cell covered by
    a rowspan or colspan above or beside it becomes an empty cell, so the rows paste into a
    spreadsheet aligned."""
    rows = [tr for tr in table.iter("tr") if next(tr.iterancestors("table"), None) is table]
    pending: dict[int, int] = {}  # column → rows still covered by a rowspan from above
    out.append("\n")
    for tr in rows:
        if skip is not None and skip(tr):
            continue
        cells: list[str] = []
        col = 0
        for cell in tr:
            if not isinstance(cell.tag, str) or cell.tag not in ("td", "th"):
                continue
            while pending.get(col, 0) > 0:
                pending[col] -= 1
                cells.append("")
                col += 1
            parts: list[str] = []
            _render_content(cell, parts, skip, in_cell=True)
            text = " ".join("".join(parts).split())
            colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
            cells.extend([text] + [""] * (colspan - 1))
            for c in range(col, col + colspan):
                if rowspan > 1:
                    pending[c] = rowspan - 1
            col += colspan
        while pending.get(col, 0) > 0:  # covered cells at the end of the row
            pending[col] -= 1
            cells.append("")
            col += 1
        line = "\t".join(cells).rstrip("\t")
        if line.strip():
            out.append(line + "\n")
