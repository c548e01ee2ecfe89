"""``radar digest``: send the digests that are due, or show them (``--dry-run``)."""

from __future__ import annotations

import sys
from typing import Any

import click

from crawler.cli.app import ctx_config
from crawler.errors import RadarError


@click.command()
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

    cfg = ctx_config(ctx)
    engine, factory = open_database(cfg.settings.database_url)
    try:
        results = deliver(factory, cfg, dry_run=dry_run, retry="all")
    finally:
        engine.dispose()
    failed = []
    for r in results:
        who = f"{r.recipient} ({r.subscription})"
        if r.status == "dry-run":
            click.echo(f"=== would send to {who}, digest key {r.key}" + (f"; {r.note}" if r.note else "") + " ===")
            if r.message is None:  # a channel (Apprise URL): its markdown body
                click.echo(f"Subject: {r.subject}\n(dry run: nothing sent, nothing recorded)\n\n{r.body}")
            else:
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


@click.command()
@click.argument("name")
@click.pass_context
def feed(ctx: click.Context, name: str) -> None:
    """Print the Atom feed of subscription NAME: its events (filters, retrospective policy) first
    seen in the last feed_days days, at most feed_max_events, laid out as in its digest and in its
    language. Entry ids stay the same across runs and reposts (docs/digest.md#atom-feeds)."""
    from crawler.digest.feed import build_feed
    from storage.db import open_database

    cfg = ctx_config(ctx)
    engine, factory = open_database(cfg.settings.database_url)
    try:
        with factory() as session:
            document = build_feed(session, cfg, name)
    finally:
        engine.dispose()
    sys.stdout.buffer.write(document)
    sys.stdout.flush()
