"""The daemon's Atom feed files (``feeds_dir``): written after each crawl, served on the metrics port.

Each subscription's feed (``crawler.digest.feed``) is written to ``feeds_dir/NAME.xml``
atomically: to a temporary file in the same directory, then renamed over the old one, so a
reader (the metrics server, a web server pointed at the directory) sees the old feed or the new
one, never half of one. A feed whose bytes did not change is not rewritten.

``GET /feeds/NAME.xml`` on the metrics port answers with the file of a configured subscription
(``application/atom+xml``); any other name, including one with a path in it, is a 404 before
the file system is asked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crawler.config.settings import Settings
from crawler.config.sources import Config
from crawler.config.subscriptions import effective_subscriptions
from crawler.digest.feed import build_feed
from scheduler.metrics import WSGIApp

log = logging.getLogger("radar.feeds")

CONTENT_TYPE = "application/atom+xml; charset=utf-8"
PREFIX = "/feeds/"
_FILE = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62})\.xml$")  # a subscription name (see its check) + .xml


def feeds_dir(settings: Settings) -> Path | None:
    """Where the feed files go (``feeds_dir``, relative to ``data_dir``); None when not set."""
    if not settings.feeds_dir:
        return None
    path = Path(settings.feeds_dir).expanduser()
    return path if path.is_absolute() else settings.data_dir / path


def write_atomically(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` through a temporary file and a rename; False (nothing
    written) when it already holds exactly ``data``."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a web server reading the directory needs it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def write_feeds(factory: sessionmaker[Session], config: Config, *, now: datetime | None = None) -> list[Path]:
    """Write every subscription's feed into ``feeds_dir`` (nothing when it is not set); returns
    the files that changed."""
    directory = feeds_dir(config.settings)
    if directory is None:
        return []
    changed = []
    with factory() as session:
        for sub in effective_subscriptions(config.settings, config.subscriptions):
            path = directory / f"{sub.name}.xml"
            if write_atomically(path, build_feed(session, config, sub.name, now=now)):
                changed.append(path)
    return changed


def feed_file(config: Config, path_info: str) -> Path | None:
    """The file ``GET path_info`` asks for, when it names a configured subscription's feed and
    ``feeds_dir`` is set; None otherwise (a 404)."""
    directory = feeds_dir(config.settings)
    match = _FILE.match(path_info[len(PREFIX):]) if path_info.startswith(PREFIX) else None
    if directory is None or match is None:
        return None
    names = {s.name for s in effective_subscriptions(config.settings, config.subscriptions)}
    return directory / match.group(0) if match.group(1) in names else None


def app(current: Callable[[], Config]) -> WSGIApp:
    """The WSGI application of ``/feeds/NAME.xml``, for the subscriptions of ``current()`` (the
    running config: a reload adds and removes feeds)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = feed_file(current(), str(environ.get("PATH_INFO", "")))
        body = b""
        if path is not None and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            with contextlib.suppress(FileNotFoundError):
                body = path.read_bytes()
        if not body:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"no such feed\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body] if environ.get("REQUEST_METHOD") == "GET" else []

    return serve
