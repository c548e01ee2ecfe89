"""Named exceptions. Library code raises these; the CLI translates them into one-line errors."""

from __future__ import annotations


class RadarError(Exception):
    """Base class of every error Policy Radar reports to users."""


class ConfigError(RadarError):
    """A configuration file or setting is invalid. The message names the source and the key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None,
                 at: tuple[int, int] | None = None) -> None:
        where = ""
        if source is not None:
            where += f"source {source!r}"
        if key is not None:
            where += (", " if where else "") + f"key {key!r}"
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.key = key
        self.at = at  # (line, column) in the config file, counted from 1, when known


class QueryError(RadarError):
    """A `radar sql` query was refused or failed."""


class DigestError(RadarError):
    """A digest could not be built or sent (the outbox keeps it for a retry)."""


class CrawlError(RadarError):
    """A crawl could not be started or was cut short."""


def brief(exc: BaseException) -> str:
    """``Type: message`` on one line, for log lines: a database error as its driver states it
    (``OperationalError: database or disk is full``), without SQLAlchemy's statement, parameters
    and "Background on this error" link."""
    orig = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError wraps the driver's exception
    shown = orig if isinstance(orig, BaseException) else exc
    lines = str(shown).strip().splitlines()
    return f"{type(shown).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")
