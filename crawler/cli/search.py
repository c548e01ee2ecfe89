"""``radar search``: Chinese full-text search, exact for any term length (storage.search)."""

from __future__ import annotations

from datetime import datetime

import click

from crawler.cli.app import ctx_config
from crawler.cli.sql import format_rows


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--type", "event_type", help="Only articles with an event of this type (signing, opening, trade …).")
@click.option("--region", help="Only articles whose region (or an event's) contains this (江西 matches 江西省赣州市).")
@click.option("--source", help="Only articles of this source (its id or its 来源).")
@click.option("--tag", help="Only articles stored with this tag (their source's tags when stored).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]),
              help="Published (else fetched) on or after this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%d %H:%M"]), help="Published before this day.")
@click.option("--sort", type=click.Choice(["recent", "relevance"]), default="recent", show_default=True,
              help="Newest stored first, or the newest 500 hits ranked by how often the terms occur.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], event_type: str | None, region: str | None,
           source: str | None, tag: str | None, since: datetime | None, until: datetime | None, sort: str,
           limit: int, fmt: str) -> None:
    """Find articles containing every term of QUERY: terms are ANDed, "quoted phrases" are kept
    whole, -term excludes. Any term length works (1 character, 5G, BYD); traditional characters
    match simplified ones. Snippets mark hits with 【】."""
    from zoneinfo import ZoneInfo

    from crawler.text.search_tokens import folds_traditional, parse_query
    from storage.db import open_database
    from storage.search import Filters
    from storage.search import search as run_search

    cfg = ctx_config(ctx)
    zone = ZoneInfo(cfg.settings.timezone)
    try:
        parsed = parse_query(" ".join(query))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    filters = Filters(event_type, region, source, since and since.replace(tzinfo=zone),
                      until and until.replace(tzinfo=zone), tag)
    engine, _factory = open_database(cfg.settings.database_url)
    try:
        with engine.connect() as conn:
            hits = run_search(conn, parsed, filters=filters, sort=sort, limit=limit)
    finally:
        engine.dispose()
    columns = ["id", "published_at", "source", "region", "title", "snippet", "url"]
    if fmt == "table":
        columns = columns[:-1]
    rows = [[h.id, h.published_at, h.source, h.region, h.title, h.snippet, h.url][:len(columns)] for h in hits]
    click.echo(format_rows(columns, rows, fmt), nl=False)
    note = ("traditional characters match simplified ones (OpenCC t2s)" if folds_traditional()
            else "OpenCC is not installed: traditional characters match only themselves")
    click.echo(note, err=True)
