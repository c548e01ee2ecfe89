"""``radar demo``: crawl the bundled replica sites and show what was found."""

from __future__ import annotations

import os
from typing import Any

import click

from crawler.cli.app import db_label
from crawler.cli.crawling import print_crawl_table
from crawler.cli.progress import crawl_progress
from crawler.config.sources import Config, load_config
from crawler.errors import RadarError

DEMO_PORTS = {"gov": 8361, "news": 8362, "park": 8363, "epaper": 8364}
EXAMPLE_QUERIES = [
    "SELECT title, published_at FROM articles ORDER BY published_at DESC LIMIT 5",
    "SELECT type, region, amount_text, project_count, growth_pct, period FROM events ORDER BY type",
    "SELECT a.source, e.type, a.title FROM events e JOIN articles a ON a.id = e.article_id",
]


@click.command()
@click.option("--serve", is_flag=True, help="Keep the replica sites running after the crawl (Ctrl-C stops).")
@click.option("--port-base", type=int, default=8361, show_default=True,
              help="First of the four loopback ports the replica sites use.")
@click.pass_context
def demo(ctx: click.Context, serve: bool, port_base: int) -> None:
    """Start the bundled replica sites on 127.0.0.1, crawl them all, and show what was found.

    The replica runs on fixed ports, so running the demo again finds everything already stored.
    """
    from crawler.replica.demo import demo_config
    from crawler.replica.server import ReplicaSites

    base = load_config(ctx.obj.get("config_path")) if ctx.obj.get("config_path") else load_config(env={
        k: v for k, v in os.environ.items() if k != "RADAR_CONFIG"})
    ports = {site: port_base + i for i, site in enumerate(DEMO_PORTS)}
    try:
        sites = ReplicaSites(ports=ports).start()
    except OSError as exc:
        raise RadarError(f"cannot start the replica sites on ports {port_base}-{port_base + 3}: {exc}; "
                         "try --port-base") from None
    try:
        cfg, path = demo_config(sites.urls, base.settings)
        click.echo("replica sites: " + ", ".join(f"{k} {v}" for k, v in sites.urls.items()), err=True)
        click.echo(f"demo config written to {path}", err=True)
        from spiders.runner import run_crawls

        click.echo(f"crawling {len(cfg.sources)} sources into {db_label(cfg)} …", err=True)
        with crawl_progress(list(cfg.sources)) as progress:
            summaries = run_crawls(cfg, cfg.select(), progress=progress.update if progress else None)
        print_crawl_table(summaries)
        _print_totals(cfg)
        if serve:
            click.echo("\nreplica sites keep running; try: radar --config "
                       f"{path} daemon    (Ctrl-C stops)", err=True)
            import signal
            import time

            # Scrapy's shutdown handlers outlive the crawl and would swallow these signals
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sites.stop()


def _raise_keyboard_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _print_totals(cfg: Config) -> None:
    from storage import queries
    from storage.db import open_database

    engine, factory = open_database(cfg.settings.database_url)
    with factory() as session:
        per_source = queries.articles_per_source(session)
        per_type = queries.events_per_type(session)
    engine.dispose()
    click.echo("\narticles stored per source:")
    for name, count in sorted(per_source.items()):
        click.echo(f"  {name:<22} {count}")
    click.echo("events found per type:")
    for kind in ("signing", "opening", "trade"):
        click.echo(f"  {kind:<22} {per_type.get(kind, 0)}")
    click.echo(f"database: {db_label(cfg)}")
    click.echo("\ntry next:")
    prefix = "" if not cfg.path else f"--config {cfg.path} "
    for q in EXAMPLE_QUERIES:
        click.echo(f'  radar {prefix}sql "{q}"')
    from crawler.config.subscriptions import effective_subscriptions

    # a dry run still needs to know whom it would write to: without recipients it would only
    # say so, so the suggestion names one (RADAR_MAIL_TO is read from the environment)
    mail_to = "" if effective_subscriptions(cfg.settings, cfg.subscriptions) else "RADAR_MAIL_TO=you@example.org "
    click.echo(f"  {mail_to}radar {prefix}digest --dry-run")

