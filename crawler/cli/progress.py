"""Per-source crawl progress on a terminal (``radar crawl``, ``--backfill``, ``radar demo``).

One line per source — pages fetched, new articles, errors — redrawn as the crawl goes, with
tqdm: it has no dependencies of its own (rich brings pygments and markdown-it, 13 MB to tqdm's
0.6 MB) and imports as fast (about 36 ms, and only when stderr is a terminal). Log lines printed
meanwhile go through tqdm, so they do not tear the lines. Nothing at all is shown when stderr is
not a terminal (a pipe, a file, cron) or under the daemon (its crawls run with ``--quiet``).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any

__all__ = ["Progress", "crawl_progress"]


class Progress:
    """The lines of one crawl's sources; :meth:`update` takes ``(source, counts)`` rows with the
    counts ``spiders.extensions.run_counts`` makes."""

    def __init__(self, names: Sequence[str], stream: IO[str]) -> None:
        from tqdm import tqdm

        # a terminal that reports no size (a bare pseudo-terminal) would get no line at all
        size = shutil.get_terminal_size((100, 24))
        # more sources than the terminal has lines: one line for them all
        self.total = f"{len(names)} sources" if len(names) > max(size.lines - 2, 1) else ""
        names = [self.total] if self.total else names
        width = max((len(n) for n in names), default=6)
        columns, rows = size.columns or 100, max(size.lines, len(names) + 1)
        self.bars = {name: tqdm(total=None, desc=name.ljust(width), unit=" pages", position=i, file=stream,
                                leave=True, ncols=columns, nrows=rows, mininterval=0.2,
                                bar_format="{desc}  {n_fmt}{unit}{postfix}  [{elapsed}]")
                     for i, name in enumerate(names)}
        for bar in self.bars.values():
            bar.set_postfix_str("new 0, errors 0", refresh=False)

    def update(self, rows: Sequence[tuple[str, dict[str, int]]]) -> None:
        """Show the current counts of each source (or their sums, on one line)."""
        if self.total:
            summed = {key: sum(counts.get(key, 0) for _name, counts in rows) for key in ("pages", "new", "errors")}
            rows = [(self.total, summed)]
        for name, counts in rows:
            bar = self.bars.get(name)
            if bar is None:
                continue
            pages = counts.get("pages", 0)
            if pages != bar.n:
                bar.update(pages - bar.n)
            bar.set_postfix_str(f"new {counts.get('new', 0)}, errors {counts.get('errors', 0)}")

    def close(self) -> None:
        """Leave the lines as they last were."""
        for bar in self.bars.values():
            bar.close()


@contextlib.contextmanager
def crawl_progress(names: Sequence[str], *, quiet: bool = False,
                   stream: IO[str] | None = None) -> Iterator[Progress | None]:
    """A :class:`Progress` for ``names`` when ``stream`` (stderr) is a terminal and not ``quiet``,
    else None; log records to the terminal go through it while it is shown."""
    out: Any = stream if stream is not None else sys.stderr
    if quiet or not out.isatty():
        yield None
        return
    import logging

    progress = Progress(names, out)
    # log lines to the terminal are written through tqdm, which clears the lines first and draws
    # them again after; each handler keeps its level and filters (tqdm's own redirect drops them)
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and getattr(h.stream, "isatty", lambda: False)()]
    before = [h.setStream(_ThroughBars(h.stream)) for h in handlers]
    try:
        yield progress
    finally:
        for handler, stream in zip(handlers, before, strict=True):
            handler.setStream(stream)
        progress.close()


class _ThroughBars:
    """A terminal stream whose writes go through :func:`tqdm.tqdm.write`."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        from tqdm import tqdm

        if text.strip():
            tqdm.write(text.rstrip("\n"), file=self.stream)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return True
