"""``radar daemon`` and ``radar status``: run the scheduler, and report on it and the sources."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from crawler.cli.app import ctx_config, db_label, set_log_level
from crawler.errors import ConfigError


@click.command()
@click.option("--shutdown-grace", type=float, default=30.0, show_default=True,
              help="Seconds running crawls get to finish after SIGTERM.")
@click.option("--metrics-port", type=int, default=0, envvar="RADAR_METRICS_PORT",
              help="Serve Prometheus metrics on this port (default: off).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, envvar="RADAR_METRICS_HOST",
              help="Address the metrics server listens on.")
@click.pass_context
def daemon(ctx: click.Context, shutdown_grace: float, metrics_port: int, metrics_host: str) -> None:
    """Run in the foreground: crawl each source on its schedule, send digests on theirs.

    Logs go to stderr (journald-friendly), one structured line per job. SIGTERM or SIGINT stops
    it cleanly with exit code 0; SIGHUP (or saving the config file) reloads sources and
    subscriptions. A second daemon on the same database refuses to start.
    """
    from scheduler.daemon import Daemon

    set_log_level(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per job, not per migration step
    cfg = ctx_config(ctx)
    if not cfg.sources:
        raise ConfigError("no sources configured; nothing to schedule")
    from storage.db import open_database

    engine, _ = open_database(cfg.settings.database_url)  # migrate once, before any child starts
    engine.dispose()
    sys.exit(Daemon(cfg, shutdown_grace=shutdown_grace, metrics_port=metrics_port,
                    metrics_host=metrics_host).run())


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """The daemon, then per source: last success, last error, items per run, health; then alerts
    and unsent digests."""
    from sqlalchemy.exc import OperationalError

    from crawler.health.render import render_status
    from storage.db import open_database
    from storage.runs import abandon_dead_runs
    from storage.status import status_data

    cfg = ctx_config(ctx)
    now = datetime.now(UTC)
    engine, factory = open_database(cfg.settings.database_url)
    with factory() as session:
        try:  # runs left running by a crawl process that is gone are shown as abandoned
            if abandon_dead_runs(session, now=now):
                session.commit()
        except OperationalError:  # a locked database: shown as it is
            session.rollback()
        data = status_data(session, cfg, now=now)
    engine.dispose()
    click.echo(f"database: {db_label(cfg)}")
    click.echo(render_status(data, cfg, now=now))
