"""``radar status``: the outbox's rows per channel (a subscription's ``notify:`` URL), tokens masked. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from crawler.text.tables import column_widths, pad_row

_PLACEHOLDER = re.compile(r"\$\{[A-Z_][A-Z0-9_]*\}")  # as crawler.config.subscriptions writes them
_SECRETISH = re.compile(r"[A-Za-z0-9_-]{16,}")  # a literal token-shaped run (a key, a bot token)


@dataclass(frozen=True)
class ChannelState:
    """One channel's digests: sent, not sent yet (``pending``), of which tried and failed
    (``failing``); when it last took one, and the latest error."""

    url: str
    sent: int = 0
    pending: int = 0
    failing: int = 0
    last_sent_at: datetime | None = None
    last_error: str = ""


def masked(url: str) -> str:
    """``url`` fit to show: ``${NAME}`` placeholders stay (names, not secrets); a literal
    password, every query value and any token-shaped run of 16 or more letters and digits
    become ``***``. Not a URL (a mail address): as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    names: list[str] = []

    def keep(m: re.Match[str]) -> str:
        names.append(m.group(0))
        return f"\x00{len(names) - 1}\x00"

    rest = _PLACEHOLDER.sub(keep, rest)
    rest = re.sub(r"^([^/@?]*?):([^/@?]*)@", r"\1:***@", rest)
    rest = re.sub(r"([?&][^=&]*=)[^&]*", r"\1***", rest)
    rest = _SECRETISH.sub("***", rest)
    return scheme + sep + re.sub("\x00(\\d+)\x00", lambda m: names[int(m.group(1))], rest)


def channel_lines(channels: Sequence[ChannelState], tz: tzinfo) -> list[str]:
    """The channels table: one row per ``notify:`` URL (masked) with its digests by state."""
    if not channels:
        return []
    table = [["channel", "sent", "pending", "failing", "last sent", "last error"]]
    for c in channels:
        last = c.last_sent_at.astimezone(tz).strftime("%m-%d %H:%M") if c.last_sent_at else "never"
        error = " ".join(masked(word) for word in c.last_error.split())[:60] or "-"
        table.append([masked(c.url), str(c.sent), str(c.pending), str(c.failing), last, error])
    widths = column_widths(table)
    return [pad_row(row, widths).rstrip() for row in table] + [""]
