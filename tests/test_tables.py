"""The text-table helper the status table and ``radar sql`` share."""

from crawler.text.tables import column_widths, display_width, pad, pad_row


def test_wide_characters_take_two_columns() -> None:
    assert display_width("abc") == 3
    assert display_width("通知ab") == 6
    assert display_width("ＡＢ") == 4  # full-width letters


def test_pad_fills_to_screen_width_and_never_cuts() -> None:
    assert pad("通知", 6) == "通知  "
    assert pad("toolong", 3) == "toolong"


def test_rows_align_on_screen_with_mixed_scripts() -> None:
    rows = [["source", "title"], ["gov", "关于印发通知"], ["ndrc", "x"]]
    widths = column_widths(rows)
    assert widths == [6, 12]
    lines = [pad_row(r, widths) for r in rows]
    assert {display_width(line) for line in lines} == {20}
    assert lines[1] == "gov     关于印发通知"
    assert column_widths([]) == []
