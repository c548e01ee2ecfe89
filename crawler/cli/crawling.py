"""``radar crawl``: crawl sources now, or re-check their stored articles."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.app import ctx_config, db_label
from crawler.cli.progress import crawl_progress
from crawler.config.sources import Config, Source
from crawler.errors import ConfigError
from crawler.processes import limit_memory, load_scrapy_tls, stop_when_orphaned

if TYPE_CHECKING:
    from crawler.ingest.ingestor import Ingestor


def print_crawl_table(summaries: Sequence[Any]) -> None:
    """One line per crawled source: pages, new articles, duplicates, errors, events, finish."""
    click.echo(f"{'source':<22} {'pages':>6} {'new':>5} {'dupes':>6} {'errors':>6} {'events':>6}  finish")
    for s in summaries:
        c = s.counts
        click.echo(f"{s.source:<22} {c['pages']:>6} {c['new']:>5} {c['duplicates']:>6} {c['errors']:>6} "
                   f"{s.new_events:>6}  {s.finish_reason}")


@click.command()
@click.argument("sources", nargs=-1)
@click.option("--quiet", is_flag=True, help="Print nothing but errors (used by the daemon).")
@click.option("--memory-mb", type=click.IntRange(min=0), default=None,
              help="Limit this process's address space (MiB; 0: no limit). Default: the crawl_memory_mb setting.")
@click.option("--run-id", type=int, default=0, hidden=True, help="Fill this crawl_runs row (the daemon opens it).")
@click.option("--watch-parent", is_flag=True, hidden=True, help="Stop cleanly when the parent process dies.")
@click.option("--recheck", is_flag=True,
              help="Re-fetch the stored articles of the last recheck_days days (conditionally) to catch revisions; "
                   "fetch no listing pages.")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="When another process (the daemon) is crawling a source, wait up to SECONDS for it to finish "
                   "instead of skipping that source.")
@click.option("--backfill", is_flag=True,
              help="Walk the sources' listings again from their first page to max_pages, through pages of "
                   "stored articles, fetching what was never stored.")
@click.option("--since", "since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="With --backfill: end the walk at a listing page whose dated articles are all older than "
                   "DATE (YYYY-MM-DD), and fetch no article it dates before DATE.")
@click.pass_context
def crawl(ctx: click.Context, sources: tuple[str, ...], quiet: bool, memory_mb: int | None, run_id: int,
          watch_parent: bool, recheck: bool, wait: float, backfill: bool, since: datetime | None) -> None:
    """Crawl SOURCES now (all enabled sources when none are named).

    With --recheck, re-check stored articles instead (listing sources only; all enabled ones
    when none are named): an unchanged page costs a 304 or moves only its check time, a changed
    one is stored as a revision and its events are detected again.

    A source's first crawl walks its listing to its last page or max_pages, through pages whose
    articles are stored already (a backfill); later crawls stop at the first page whose articles
    are all stored. --backfill walks it again so.

    One process at a time crawls a source: a source that the daemon (or another radar crawl)
    is crawling or re-checking right now is skipped, or waited for with --wait. The exit code
    is 2 when any source did not finish, skipped ones included.
    """
    if watch_parent:
        # started before the memory limit applies: a thread whose start runs out of memory
        # half-way (its stack mapped, its Python state not: Thread.start() then waits for ever)
        # left a crawl hanging silently until the daemon's time limit
        stop_when_orphaned()
    if since is not None and not backfill:
        raise click.UsageError("--since goes with --backfill")
    if backfill and recheck:
        raise click.UsageError("--backfill and --recheck do not go together")
    cfg = ctx_config(ctx)
    if memory_mb is None:  # a manual crawl is held to the limit the daemon's crawls get
        memory_mb = cfg.settings.crawl_memory_mb
    if memory_mb:
        limit_memory(memory_mb)
    selected = cfg.select(list(sources))
    if recheck and not sources:
        selected = [s for s in selected if s.rechecked]
    if not selected:
        raise ConfigError("no sources configured; see radar.example.yaml")
    # The collector's thresholds the crawl runs with, from here on: loading Scrapy, Twisted and
    # SQLAlchemy allocates hundreds of thousands of long-lived objects, and at Python's default
    # of a collection per 700 it kept rescanning them (2.5 % of the instructions of a crawl that
    # finds nothing new, callgrind).
    from spiders import CRAWL_GC_THRESHOLD

    gc.set_threshold(*CRAWL_GC_THRESHOLD)
    overrides: dict[str, Any] = {}
    if run_id:
        if len(selected) != 1:
            raise click.UsageError("--run-id needs exactly one source")
        overrides["RADAR_RUN_ID"] = run_id
    if since is not None:
        overrides["RADAR_BACKFILL_SINCE"] = since.date().isoformat()
    from crawler.ingest.ingestor import Ingestor

    ingestor = Ingestor.for_url(cfg.settings.database_url)
    try:
        if backfill:
            _restart_walks(selected, ingestor)
        if not recheck:
            _start_helpers_early(cfg, selected, ingestor)
        load_scrapy_tls()
        from spiders.runner import run_crawls

        if not quiet:
            click.echo(f"crawling {len(selected)} source(s) into {db_label(cfg)} …", err=True)
        with crawl_progress([s.name for s in selected], quiet=quiet) as progress:
            summaries = run_crawls(cfg, selected, overrides=overrides, recheck=recheck, wait=wait, ingestor=ingestor,
                                   progress=progress.update if progress else None)
    finally:
        # closed, not left to the process's exit: SQLite then folds its write-ahead log into the
        # database file, which alone holds the whole crawl
        ingestor.close()
    if not quiet:
        print_crawl_table(summaries)
        if any(s.skipped for s in summaries) and not wait:
            click.echo("(a skipped source is being crawled by another process, the daemon perhaps; "
                       "--wait SECONDS waits for it)", err=True)
    if any(s.finish_reason not in ("finished",) for s in summaries):
        sys.exit(2)


def _restart_walks(selected: Sequence[Source], ingestor: Ingestor) -> None:
    """Make the crawl of each of ``selected`` a backfill (``storage.frontier.restart_walk``)."""
    from storage.db import transaction
    from storage.frontier import restart_walk

    now = datetime.now(UTC)
    with transaction(ingestor.factory) as session:
        for source in selected:
            restart_walk(session, source.name, now)


def _start_helpers_early(cfg: Config, selected: Sequence[Source], ingestor: Ingestor) -> None:
    """Start the fork server of the crawl's helper processes now, before Scrapy loads, when the
    crawl will likely start them: a source's first crawl, which takes in every article its
    listings show (``crawler.ingest.pool.prestart``)."""
    if cfg.settings.workers == 0:
        return  # configured to prepare every page in the crawl process
    from crawler.ingest.pool import prestart
    from storage.runs import never_crawled

    with ingestor.factory() as session:
        first = never_crawled(session, [s.name for s in selected])
    if first:
        prestart()
