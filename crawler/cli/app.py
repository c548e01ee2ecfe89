"""The ``radar`` command group: its options, its logging, and the one-line error it makes of a
library error (:class:`RadarError`) or a failing database, with exit code 1."""

from __future__ import annotations

import logging
from typing import Any

import click

from crawler.config.sources import Config, load_config
from crawler.errors import RadarError, brief


class RadarGroup(click.Group):
    """Turns library errors, and a failing database's, into one line on stderr instead of a
    traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RadarError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            from sqlalchemy.exc import OperationalError  # imported by then, if a database was opened

            if isinstance(exc, OperationalError):  # the database itself: full disk, server down, locked
                raise click.ClickException(f"the database failed: {brief(exc)}") from None
            raise


def ctx_config(ctx: click.Context) -> Config:
    """The config the command line names (loaded once per command)."""
    cfg: Config | None = ctx.obj.get("config")
    if cfg is None:
        cfg = load_config(ctx.obj.get("config_path"))
        ctx.obj["config"] = cfg
    return cfg


@click.group(cls=RadarGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="RADAR_CONFIG",
              help="Config file (sources and settings). Default: $RADAR_CONFIG, else ./radar.yaml.")
@click.option("-v", "--verbose", is_flag=True, help="Log crawler details to stderr.")
@click.version_option(package_name="policy-radar")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Policy Radar: watch Chinese government and investment news; flag signings, openings and
    trade figures; mail digests; query everything with SQL."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["verbose"] = verbose
    set_log_level(logging.DEBUG if verbose else logging.WARNING)


def set_log_level(level: int) -> None:
    """One stderr handler for everything (ours, Scrapy's, APScheduler's) at ``level``."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_radar", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._radar = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setLevel(level)
    handler.filters = [] if level < logging.INFO else [_OneLineErrors()]
    root.setLevel(logging.INFO)


class _OneLineErrors(logging.Filter):
    """Scrapy logs a dead site or a broken page with a full traceback; a user needs one line
    (the message already names the URL and the error). ``--verbose`` keeps the tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("scrapy", "twisted", "py.warnings")) and record.exc_info:
            exc = record.exc_info[1]
            message = record.getMessage()
            record.msg = message if exc is None or str(exc) in message else f"{message} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def db_label(cfg: Config) -> str:
    """The configured database as a line may name it (no password)."""
    from storage.db import describe

    return describe(cfg.settings.database_url)
