"""The ``radar`` command. Library errors (:class:`RadarError`) become one clear line and exit 1."""

from __future__ import annotations

import contextlib
import csv
import gc
import inspect
import io
import json
import logging
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crawler.config.sources import Config, Source, load_config
from crawler.errors import ConfigError, RadarError, brief

if TYPE_CHECKING:
    from crawler.ingest.ingestor import Ingestor

F = TypeVar("F", bound=Callable[..., Any])


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


def _config(ctx: click.Context) -> Config:
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


# --------------------------------------------------------------------------- crawling


def _print_crawl_table(summaries: Sequence[Any]) -> None:
    click.echo(f"{'source':<22} {'pages':>6} {'new':>5} {'dupes':>6} {'errors':>6} {'events':>6}  finish")
    for s in summaries:
        c = s.counts
        click.echo(f"{s.source:<22} {c['pages']:>6} {c['new']:>5} {c['duplicates']:>6} {c['errors']:>6} "
                   f"{s.new_events:>6}  {s.finish_reason}")


@main.command()
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
@click.pass_context
def crawl(ctx: click.Context, sources: tuple[str, ...], quiet: bool, memory_mb: int | None, run_id: int,
          watch_parent: bool, recheck: bool, wait: float) -> None:
    """Crawl SOURCES now (all enabled sources when none are named).

    With --recheck, re-check stored articles instead (listing sources only; all enabled ones
    when none are named): an unchanged page costs a 304 or moves only its check time, a changed
    one is stored as a revision and its events are detected again.

    One process at a time crawls a source: a source that the daemon (or another radar crawl)
    is crawling or re-checking right now is skipped, or waited for with --wait. The exit code
    is 2 when any source did not finish, skipped ones included.
    """
    if watch_parent:
        # started before the memory limit applies: a thread whose start runs out of memory
        # half-way (its stack mapped, its Python state not: Thread.start() then waits for ever)
        # left a crawl hanging silently until the daemon's time limit
        _stop_when_orphaned()
    cfg = _config(ctx)
    if memory_mb is None:  # a manual crawl is held to the limit the daemon's crawls get
        memory_mb = cfg.settings.crawl_memory_mb
    if memory_mb:
        _limit_memory(memory_mb)
    selected = cfg.select(list(sources))
    if recheck and not sources:
        selected = [s for s in selected if s.kind == "listing"]
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
    from crawler.ingest.ingestor import Ingestor

    ingestor = Ingestor.for_url(cfg.settings.database_url)
    try:
        if not recheck:
            _start_helpers_early(cfg, selected, ingestor)
        load_scrapy_tls()
        from spiders.runner import run_crawls

        if not quiet:
            click.echo(f"crawling {len(selected)} source(s) into {_db_label(cfg)} …", err=True)
        summaries = run_crawls(cfg, selected, overrides=overrides, recheck=recheck, wait=wait, ingestor=ingestor)
    finally:
        # closed, not left to the process's exit: SQLite then folds its write-ahead log into the
        # database file, which alone holds the whole crawl
        ingestor.close()
    if not quiet:
        _print_crawl_table(summaries)
        if any(s.skipped for s in summaries) and not wait:
            click.echo("(a skipped source is being crawled by another process, the daemon perhaps; "
                       "--wait SECONDS waits for it)", err=True)
    if any(s.finish_reason not in ("finished",) for s in summaries):
        sys.exit(2)


def _start_helpers_early(cfg: Config, selected: Sequence[Source], ingestor: Ingestor) -> None:
    """Start the fork server of the crawl's helper processes now, before Scrapy loads, when the
    crawl will likely start them: a source's first crawl, which takes in every article its
    listings show (``crawler.ingest.pool.prestart``)."""
    if int(cfg.settings.scrapy_settings.get("RADAR_WORKERS", -1)) == 0:  # as Scrapy's getint reads it
        return  # configured to prepare every page in the crawl process
    from crawler.config.settings import export_signal_rules
    from crawler.ingest.pool import prestart
    from storage.runs import never_crawled

    with ingestor.factory() as session:
        first = never_crawled(session, [s.name for s in selected])
    if first:
        export_signal_rules(cfg.settings)  # the helpers read the rule files from their environment
        prestart()


def load_scrapy_tls() -> None:
    """Import Scrapy's TLS modules (a crawl's first Scrapy import, or the launcher's).

    They define deprecated aliases whose shim calls ``inspect.stack()`` only to name the module
    that defines each alias. Imported first, rather than three imports deep, they cost 6 % fewer
    instructions of a crawl that finds nothing new, which is mostly start-up (bench/crawl.py's
    re-crawl; callgrind); see :func:`_stack_without_source` for the rest.
    """
    with _stack_without_source():
        import scrapy.core.downloader.contextfactory  # noqa: F401  (it imports scrapy.core.downloader.tls)


@contextlib.contextmanager
def _stack_without_source() -> Iterator[None]:
    """Within the block, ``inspect.stack()`` returns frames without their source lines, and
    ``inspect.getmodule()`` finds a frame's module by the frame's own module name.

    For each frame on the stack the default (one line of context) finds the source file and
    reads it, and ``getmodule`` scans every loaded module to map files to modules: 8 % of the
    instructions of a crawl that finds nothing new (callgrind), spent by Scrapy's deprecation
    shim, which only names the module its caller's frame runs in. Only this process's own
    start-up runs in the block (no other thread exists yet), and the real functions are back
    when it ends.
    """
    real_stack, real_getmodule = inspect.stack, inspect.getmodule

    def frame_module(obj: object, _filename: str | None = None) -> types.ModuleType | None:
        if inspect.isframe(obj):
            return sys.modules.get(obj.f_globals.get("__name__", ""))
        return real_getmodule(obj, _filename)

    def stack(context: int = 1) -> list[inspect.FrameInfo]:
        return real_stack(0)[1:]  # less this function's own frame, as the real one is not there

    inspect.stack = stack
    # typeshed names getmodule's first parameter "object", which would shadow the builtin here
    inspect.getmodule = frame_module  # type: ignore[assignment]
    try:
        yield
    finally:
        inspect.stack, inspect.getmodule = real_stack, real_getmodule


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at ``memory_mb`` MiB (inherited by the extraction workers),
    with every thread allocating from one malloc arena.

    glibc gives each thread that allocates an arena of its own and reserves 64 MiB of address
    space for it: under an address-space limit the reservations count as if used (130 of a
    crawl's 430 MB here), and once the limit is near, each small allocation first tries, and
    fails, to reserve another arena: the crawl then runs on at full CPU and a fraction of its speed
    instead of failing with a MemoryError (seen at 60 MiB: up to a fifth of the crawls, depending
    on where the limit was reached). Only the reactor thread allocates much, so one arena costs
    nothing measurable (four interleaved crawls of bench/crawl.py's site each way: medians of
    388 and 384 pages/s, with and without).
    """
    import ctypes
    import resource

    used = _address_space_mb()
    if used is not None and used >= memory_mb:
        # every new mapping would fail from here, somewhere in the crawl and under whatever name
        # (SQLite calls a shared-memory mapping it cannot make a disk I/O error): say so now
        raise RadarError(f"Cannot allocate memory: this crawl's limit of {memory_mb} MiB is below the "
                         f"{used} MiB of address space it already has; raise crawl_memory_mb")
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 1024 * 1024,) * 2)
    with contextlib.suppress(OSError, AttributeError):  # not glibc: no such setting, no such arenas
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)


_M_ARENA_MAX = -8  # glibc's malloc.h


def proc_status(field: str) -> int | None:
    """The number in this process's ``/proc/self/status`` line ``field`` (``VmSize`` in KiB,
    ``Threads``), or None where /proc cannot tell."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), None)


def _address_space_mb() -> int | None:
    """This process's address space in MiB (VmSize), or None where /proc cannot tell."""
    kib = proc_status("VmSize")
    return None if kib is None else kib // 1024


def _stop_when_orphaned() -> None:
    """A daemon's crawl child: when the daemon dies (SIGKILL, OOM killer), SIGTERM ourselves so the
    crawl closes cleanly instead of running on unsupervised, past its time limit."""
    import signal
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
        os._exit(3)  # still alive a minute later: the graceful stop hung

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _db_label(cfg: Config) -> str:
    from storage.db import describe

    return describe(cfg.settings.database_url)


DEMO_PORTS = {"gov": 8361, "news": 8362, "park": 8363, "epaper": 8364}
EXAMPLE_QUERIES = [
    "SELECT title, published_at FROM articles ORDER BY published_at DESC LIMIT 5",
    "SELECT type, region, amount_text, project_count, growth_pct, period FROM events ORDER BY type",
    "SELECT a.source, e.type, a.title FROM events e JOIN articles a ON a.id = e.article_id",
]


@main.command()
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

        click.echo(f"crawling {len(cfg.sources)} sources into {_db_label(cfg)} …", err=True)
        summaries = run_crawls(cfg, cfg.select())
        _print_crawl_table(summaries)
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
    click.echo(f"database: {_db_label(cfg)}")
    click.echo("\ntry next:")
    prefix = "" if not cfg.path else f"--config {cfg.path} "
    for q in EXAMPLE_QUERIES:
        click.echo(f'  radar {prefix}sql "{q}"')
    from crawler.config.subscriptions import effective_subscriptions

    # a dry run still needs to know whom it would write to: without recipients it would only
    # say so, so the suggestion names one (RADAR_MAIL_TO is read from the environment)
    mail_to = "" if effective_subscriptions(cfg.settings, cfg.subscriptions) else "RADAR_MAIL_TO=you@example.org "
    click.echo(f"  {mail_to}radar {prefix}digest --dry-run")


# --------------------------------------------------------------------------- daemon & digest


@main.command()
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
    cfg = _config(ctx)
    if not cfg.sources:
        raise ConfigError("no sources configured; nothing to schedule")
    from storage.db import open_database

    engine, _ = open_database(cfg.settings.database_url)  # migrate once, before any child starts
    engine.dispose()
    sys.exit(Daemon(cfg, shutdown_grace=shutdown_grace, metrics_port=metrics_port,
                    metrics_host=metrics_host).run())


@main.command()
@click.option("--dry-run", is_flag=True, help="Print the email that would be sent; send and record nothing.")
@click.option("--html", "show_html", is_flag=True, help="With --dry-run: print the HTML part instead of the text.")
@click.option("--raw", is_flag=True, help="With --dry-run: print the whole MIME message as it would go out.")
@click.pass_context
def digest(ctx: click.Context, dry_run: bool, show_html: bool, raw: bool) -> None:
    """Send what is due now: unsent digests (retried at once), then each subscription's new events
    (daily: one digest per day; weekly: one per week; immediate: whatever is new). Each address
    gets each event once. With --dry-run: every message that would go out, to whom."""
    from crawler.digest.delivery import deliver
    from storage.db import open_database

    cfg = _config(ctx)
    engine, factory = open_database(cfg.settings.database_url)
    try:
        results = deliver(factory, cfg, dry_run=dry_run, retry="all")
    finally:
        engine.dispose()
    failed = []
    for r in results:
        who = f"{r.recipient} ({r.subscription})"
        if r.status == "dry-run":
            assert r.message is not None
            click.echo(f"=== would send to {who}, digest key {r.key}" + (f"; {r.note}" if r.note else "") + " ===")
            click.echo(preview(r.message, show_html=show_html, raw=raw))
        elif r.status == "sent":
            click.echo(f"sent digest {r.digest_id} with {r.event_count} events to {who}")
        elif r.status in ("failed", "deferred"):
            failed.append(r)
            click.echo(f"digest {r.digest_id} to {who} NOT sent, will retry: {r.error}", err=True)
        else:
            click.echo(f"nothing sent to {who}: {r.note}")
    if failed:
        raise RadarError(f"{len(failed)} digest(s) not sent; they stay in the outbox (see radar status)")


def preview(message: Any, *, show_html: bool = False, raw: bool = False) -> str:
    """A readable dry-run: decoded headers, then the plain-text (or HTML) part."""
    if raw:
        return str(message.as_string())
    head = "\n".join(f"{name}: {message[name]}" for name in ("From", "To", "Subject") if message[name])
    wanted = "text/html" if show_html else "text/plain"
    part = message.get_body(preferencelist=(wanted.split("/")[1],))
    other = "text/plain" if show_html else "text/html"
    return (f"{head}\n(dry run: nothing sent, nothing recorded; the {other} part is not shown)\n\n"
            f"{part.get_content() if part is not None else ''}\n")


# --------------------------------------------------------------------------- querying


@main.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--max-rows", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Fetch and print at most this many rows (stderr says when there were more).")
@click.pass_context
def sql(ctx: click.Context, query: str, fmt: str, max_rows: int) -> None:
    """Run one read-only SQL QUERY against the database and print the rows.

    The query reaches the database as written, alone, in a read-only session: writes, COPY, DO,
    PRAGMAs that set anything and ATTACH are refused. It is stopped after sql_timeout seconds
    (RADAR_SQL_TIMEOUT). Control characters in values are printed as escapes (\\u001b).

    Tables: articles, article_urls, attachments, stories, article_revisions, events, event_mentions,
    crawl_runs, digests, digest_events, daemon_status, page_validators, near_bands (the README's
    Schema section describes each).
    """
    from storage.readonly import run_query

    cfg = _config(ctx)
    result = run_query(cfg.settings.database_url, query, timezone=cfg.settings.timezone,
                       timeout=cfg.settings.sql_timeout, max_rows=max_rows)
    click.echo(format_rows(result.columns, result.rows, fmt, truncated=result.truncated), nl=False)
    if result.truncated:
        click.echo(f"first {max_rows} rows shown: the query returned more (add LIMIT or raise --max-rows)",
                   err=True)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def format_rows(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str, *,
                truncated: bool = False) -> str:
    """Rows as an aligned table, CSV or a JSON array of objects. Control characters in names and
    values come out as ``\\u001b`` escapes, never raw: a stored title cannot drive the terminal."""
    from crawler.text.cleaning import escape_controls

    data = [[_cell(v) for v in row] for row in rows]
    if fmt == "json":
        # json.dumps escapes C0 controls itself; DEL, C1 and bidi overrides it leaves raw
        return escape_controls(json.dumps([dict(zip(columns, r, strict=True)) for r in data],
                                          ensure_ascii=False, indent=2, default=str) + "\n")
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow([escape_controls(c) for c in columns])
        writer.writerows([escape_controls(v) if isinstance(v, str) else v for v in r] for r in data)
        return buf.getvalue()
    columns = [escape_controls(c).replace("\t", "\\t").replace("\n", " ⏎ ") for c in columns]
    text = [["NULL" if v is None else escape_controls(str(v)).replace("\t", "\\t").replace("\n", " ⏎ ")
             for v in r] for r in data]
    text = [[v if len(v) <= 80 else v[:79] + "…" for v in r] for r in text]
    widths = [max([_width(c)] + [_width(r[i]) for r in text]) for i, c in enumerate(columns)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(v, w) for v, w in zip(r, widths, strict=True)) for r in text]
    plural = "s" if len(text) != 1 else ""
    lines.append(f"(first {len(text)} rows shown)" if truncated else f"({len(text)} row{plural})")
    return "\n".join(lines) + "\n"


def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


@main.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """The daemon, then per source: last success, last error, items per run, health; then alerts
    and unsent digests."""
    from storage.db import open_database
    from storage.status import status_report

    cfg = _config(ctx)
    engine, factory = open_database(cfg.settings.database_url)
    with factory() as session:
        report = status_report(session, cfg, now=datetime.now(UTC))
    engine.dispose()
    click.echo(f"database: {_db_label(cfg)}")
    click.echo(report)


# --------------------------------------------------------------------------- pure tools


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--url", default="", help="URL the page was fetched from (resolves links, guesses the site).")
@click.option("--list", "list_file", type=click.File("r", encoding="utf-8"),
              help="File of lines 'path<TAB>url'.")
def extract(paths: tuple[str, ...], url: str, list_file: io.TextIOBase | None) -> None:
    """Extract saved pages and print one JSON object per page.

    A file that cannot be read gets {"path", "error"} instead and the others go on; the exit
    code is then 1.  What a page's content does wrong is in its object's provenance.
    """
    from crawler.extraction import extract as extract_page

    jobs: list[tuple[str, str]] = [(p, url or Path(p).resolve().as_uri()) for p in paths]
    if list_file is not None:
        for line in list_file:
            if not line.strip():
                continue
            path, _, page_url = line.rstrip("\n").partition("\t")
            jobs.append((path, page_url or Path(path).resolve().as_uri()))
    if not jobs:
        raise click.UsageError("give PATH… or --list FILE")
    failed = 0
    for path, page_url in jobs:
        try:
            article = extract_page(Path(path).read_bytes(), page_url, fetched_at=datetime.now(UTC))
        except Exception as exc:  # an unreadable file (or a bug): this file's line says so, the rest go on
            failed += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            click.echo(json.dumps({"path": path, "error": reason}, ensure_ascii=False))
            continue
        click.echo(json.dumps({"path": path, **article.to_dict()}, ensure_ascii=False))
    if failed:
        raise RadarError(f"{failed} of {len(jobs)} files could not be extracted")


@main.command()
@click.argument("path", default="-", type=click.File("r", encoding="utf-8"))
@click.option("--jsonl", is_flag=True, help='Read lines {"id","text"}; write {"id","events":[…]}.')
@click.option("--region", default="", help="Region to assume when the text names none.")
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Extra event-rule YAML file(s), merged over the packaged rules and the signal_rules setting.")
@click.pass_context
def signals(ctx: click.Context, path: io.TextIOBase, jsonl: bool, region: str, rule_files: tuple[str, ...]) -> None:
    """Print the events (signings, openings, trade figures) stated in a text."""
    from crawler.events import detect_events as _detect_events
    from crawler.events.rules import RuleError, load_rules

    files = [*_config(ctx).settings.signal_rules, *rule_files]
    try:
        rules = load_rules([Path(f) for f in files])
    except RuleError as exc:
        raise RadarError(str(exc)) from None

    def detect_events(text: str, *, title: str = "", region_hint: str = "") -> list[Any]:
        return _detect_events(text, title=title, region_hint=region_hint, rules=rules)

    if not jsonl:
        events = detect_events(path.read(), region_hint=region)
        for ev in events:
            click.echo(json.dumps(ev.to_dict(), ensure_ascii=False))
        if not events:
            click.echo("no events found", err=True)
        return
    for n, line in enumerate(path, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise RadarError(f'line {n}: expected a JSON object with "id" and "text"') from None
        events = detect_events(text, title=record.get("title", ""), region_hint=record.get("region", region))
        click.echo(json.dumps({"id": record.get("id"), "events": [e.to_dict() for e in events]},
                              ensure_ascii=False))


if __name__ == "__main__":
    main()
