"""``radar source``: try a site before it writes to the database.

``radar source suggest URL`` fetches a listing page (through the crawl's fetch guard and
settings) and prints a ready source entry (``crawler.extraction.suggest``); ``radar source test
NAME|URL`` walks a few listing pages and extracts a few articles with the source's own spider,
and prints what a crawl would store, storing nothing (``spiders.probe``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from crawler.cli.app import ctx_config
from crawler.config.sources import Config, Source, parse_source
from crawler.errors import ConfigError

if TYPE_CHECKING:
    from crawler.extraction.suggest import Suggestion


@click.group("source")
def source() -> None:
    """Try a site: suggest its entry, or dry-run an entry (nothing is stored)."""


def _source_of(cfg: Config, name_or_url: str) -> Source:
    """The configured source ``name_or_url``, or a listing source of that URL."""
    if "://" not in name_or_url:
        (found,) = cfg.select([name_or_url])
        return found
    from crawler.extraction.suggest import source_name

    entry = {"name": source_name(name_or_url), "start_urls": [name_or_url], "schedule": "every: 1h"}
    try:
        return parse_source(entry, 0)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _sample_entries(kind: str, url: str, body: bytes) -> list[tuple[str, str]]:
    """The first entries a feed or a JSON endpoint lists: (link, title)."""
    if kind == "feed":
        import feedparser

        parsed = feedparser.parse(body, response_headers={"content-location": url})
        return [(str(e.get("link", "")), str(e.get("title", ""))) for e in parsed.entries]
    if kind == "api":
        import json
        from urllib.parse import urljoin

        from spiders.api import find_items, url_field

        items = find_items(json.loads(body))
        key = url_field(items) if items else None
        titles = [k for k in ("title", "name", "headline") if items and k in items[0]]
        return [(urljoin(url, str(i.get(key, ""))), str(i.get(titles[0], "")) if titles else "")
                for i in items if key]
    return []


def _suggestion(cfg: Config, url: str) -> Suggestion:
    """What ``radar source suggest`` infers for ``url``, from one fetch of it (through the
    crawl's fetch guard and settings)."""
    from crawler.extraction.suggest import suggest as suggest_entry
    from spiders.probe import probe

    seen = probe(cfg, _source_of(cfg, url), max_listing=0, max_articles=0)
    if not seen.pages or (not seen.first_body and seen.pages[0].error):  # not fetched at all
        error = seen.pages[0].error if seen.pages else "nothing was fetched (refused? see the log with -v)"
        raise click.ClickException(f"could not fetch {url}: {error}")
    found = suggest_entry(url, seen.first_status, seen.first_headers, seen.first_body)
    if found.kind in ("feed", "api"):
        found.sample = _sample_entries(found.kind, url, seen.first_body)
    return found


def _suggested_entry(cfg: Config, url: str) -> dict[str, object]:
    """:func:`_suggestion`'s entry, worked out in a child process: a Scrapy crawl's reactor
    cannot be started twice in one process, and ``radar source test URL`` crawls after it."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("fork")) as child:
        return child.submit(_entry_of, cfg, url).result()


def _entry_of(cfg: Config, url: str) -> dict[str, object]:
    return _suggestion(cfg, url).entry()


@source.command()
@click.argument("url")
@click.option("--name", help="The entry's name (default: from the host).")
@click.pass_context
def suggest(ctx: click.Context, url: str, name: str | None) -> None:
    """Fetch the listing page URL and print a source entry for it: the kind (feed, sitemap and JSON
    endpoints too), the article-link pattern with matched links and their titles, the CMS and
    its pagination, the encoding, and whether the page must be rendered in a browser."""
    found = _suggestion(ctx_config(ctx), url)
    if name:
        found.name = name
    click.echo(found.yaml(), nl=False)


def _line(value: object, width: int = 100) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


@source.command("test")
@click.argument("name_or_url")
@click.option("--pages", "max_listing", type=click.IntRange(min=1), default=2, show_default=True,
              help="Listing pages to walk at most.")
@click.option("--articles", "max_articles", type=click.IntRange(min=0), default=3, show_default=True,
              help="Articles to fetch and extract at most.")
@click.option("--allow", help="With a URL: the article-link pattern (default: inferred on each page).")
@click.pass_context
def test(ctx: click.Context, name_or_url: str, max_listing: int, max_articles: int, allow: str | None) -> None:
    """Dry-run a configured source (NAME) or a listing page (URL): the listing pages it walks, the
    article links they give, and for a few articles the title, date, 来源, first lines and events
    a crawl would store. Nothing is written to the database (nor is it opened)."""
    from spiders.probe import probe

    cfg = ctx_config(ctx)
    if "://" in name_or_url:  # what suggest would write for it: its kind, pattern and rendering
        entry = {**_suggested_entry(cfg, name_or_url), **({"allow": allow} if allow else {})}
        try:
            target = parse_source(entry, 0)
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
    else:
        target = _source_of(cfg, name_or_url)
    seen = probe(cfg, target, max_listing=max_listing, max_articles=max_articles)
    echo = click.echo
    echo(f"{target.name} ({target.kind}): {len(seen.pages)} listing page(s), nothing stored")
    for page in seen.pages:
        if target.kind not in ("listing", "epaper"):
            how = f"the {target.kind}'s entries"
        else:
            how = f"allow {page.allow}" + ("" if target.allow else " (inferred)") if page.allow else "no article list"
        echo(f"\n  {page.url}")
        if page.error:
            echo(f"    failed: {page.error}")
            continue
        echo(f"    {len(page.links)} article link(s); {how}")
        for link in page.links[:10]:
            echo(f"      {link}")
        if len(page.links) > 10:
            echo(f"      … {len(page.links) - 10} more")
        for onward in page.onward:
            echo(f"    next: {onward}")
    echo(f"\n{len(seen.articles)} article(s) extracted:")
    for got in seen.articles:
        echo(f"\n  {got.url}")
        if got.error:
            echo(f"    failed: {got.error}")
            continue
        echo(f"    title: {_line(got.title)}")
        echo(f"    date:  {got.published_at.isoformat() if got.published_at else '(none found)'}")
        echo(f"    来源:  {got.source_name or '(none found)'}")
        for text in got.lines:
            echo(f"    | {_line(text)}")
        for event in got.events or ["(no events)"]:
            echo(f"    event: {_line(event, 140)}")
    if not any(page.links for page in seen.pages):
        raise click.ClickException("no article links found: give the source an allow pattern")
