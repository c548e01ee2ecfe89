"""``radar extract`` and ``radar signals``: the extractor and the event detector on files, no
database, no crawl."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli.app import ctx_config
from crawler.errors import RadarError


@click.command()
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


@click.command()
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

    files = [*ctx_config(ctx).settings.signal_rules, *rule_files]
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
