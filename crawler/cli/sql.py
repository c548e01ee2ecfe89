"""``radar sql``: one read-only query, its rows printed as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import click

from crawler.cli.app import ctx_config


@click.command()
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

    cfg = ctx_config(ctx)
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
    from crawler.text.tables import column_widths, pad_row

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
    widths = column_widths([columns, *text])
    lines = [pad_row(columns, widths), "  ".join("-" * w for w in widths)]
    lines += [pad_row(r, widths) for r in text]
    plural = "s" if len(text) != 1 else ""
    lines.append(f"(first {len(text)} rows shown)" if truncated else f"({len(text)} row{plural})")
    return "\n".join(lines) + "\n"
