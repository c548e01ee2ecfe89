"""``radar worker``: run crawls that a daemon with ``executor: queue`` put on a queue."""

from __future__ import annotations

import logging

import click

from crawler.cli.app import ctx_config, set_log_level


@click.command()
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Take the crawls of this queue (repeatable; default: the crawl_queue setting). Sources "
                   "tagged queue:NAME go to queue NAME.")
@click.option("--concurrency", type=click.IntRange(min=0), default=0,
              help="Crawls at once (default: max_concurrent_crawls, or as many as the available memory holds, "
                   "at most eight per CPU and 24).")
@click.pass_context
def worker(ctx: click.Context, queues: tuple[str, ...], concurrency: int) -> None:
    """Run in the foreground: take crawls from the broker's queues and run them against the
    config's PostgreSQL database, each in a child process within the time and memory limits.

    A crawl is acknowledged when it has ended, so one whose worker was killed goes to another
    worker. SIGTERM: take nothing new, let running crawls finish, exit 0.
    """
    from scheduler.gate import default_limit
    from scheduler.queue import (
        WorkerContext,
        install_worker,
        make_app,
        require_shared_database,
        start_launcher,
        worker_name,
    )
    from storage.db import open_database

    set_log_level(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = ctx_config(ctx)
    settings = cfg.settings
    require_shared_database(settings)
    names = list(queues) or [settings.crawl_queue]
    threads = concurrency or settings.max_concurrent_crawls or default_limit()
    _engine, factory = open_database(settings.database_url, migrate_schema=False)  # the daemon migrates
    name = worker_name(names)
    launcher = start_launcher(settings)
    install_worker(WorkerContext(cfg, factory, name, launcher=launcher, crawls_at_once=threads))
    app = make_app(settings)
    logging.getLogger("radar.worker").info("worker %s: queues %s, %d crawl(s) at once, %s", name, ",".join(names),
                                           threads, "warm" if launcher else "each crawl a new process")
    try:
        app.worker_main(["worker", "--queues", ",".join(names), "--concurrency", str(threads), "--pool", "threads",
                         "--hostname", name, "--without-gossip", "--without-mingle", "--loglevel", "INFO"])
    finally:
        if launcher is not None:
            launcher.close()
