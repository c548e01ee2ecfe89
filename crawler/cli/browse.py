"""``radar browse``: Datasette on the SQLite database, with descriptions, canned queries and
Chinese search (Datasette is the optional extra ``browse``)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from crawler.cli.app import ctx_config

PLUGINS = Path(__file__).parent / "datasette_plugins"
DATABASE = "radar"

_SEARCH = """SELECT id, published_at, source_name, region, title, search_snippet(title, body, :q) AS snippet, url
FROM articles
WHERE id IN (SELECT rowid FROM article_search WHERE article_search MATCH search_match(:q))
  AND search_hit(title, body, :q)
ORDER BY id DESC LIMIT 100"""


def _events(kind: str) -> str:
    return (f"SELECT e.id, e.first_seen_at, e.subtype, e.stage, e.region, e.amount_text, e.amount_cny, e.parties, "
            f"a.title, a.url FROM events e JOIN articles a ON a.id = e.article_id WHERE e.type = '{kind}' "
            f"AND NOT e.retrospective ORDER BY e.id DESC LIMIT 200")


CANNED: dict[str, dict[str, Any]] = {
    "search": {"sql": _SEARCH, "title": "Search articles (Chinese, any term length)",
               "description": "Terms are ANDed, \"quoted phrases\" kept whole, -term excluded; traditional "
                              "characters match simplified ones. The same search as `radar search`."},
    "recent_signings": {"sql": _events("signing"), "title": "Recent signings (签约)"},
    "recent_openings": {"sql": _events("opening"), "title": "Recent openings (开工, 投产, 开业)"},
    "recent_trade": {"sql": _events("trade").replace("e.amount_text, e.amount_cny, e.parties",
                                                     "e.amount_text, e.amount_cny, e.growth_pct, e.period"),
                     "title": "Recent trade figures (进出口)"},
    "stories_with_several_sources": {
        "sql": "SELECT s.id, s.title, s.source_count, s.article_count, s.sources, s.first_seen_at, s.last_seen_at "
               "FROM stories s WHERE s.source_count > 1 ORDER BY s.last_seen_at DESC LIMIT 200",
        "title": "Stories carried by several sources"},
    "source_health": {
        "sql": "SELECT source, count(*) AS runs, max(started_at) AS last_run, "
               "sum(status = 'finished') AS finished, sum(status IN ('failed', 'blocked')) AS failed_or_blocked, "
               "sum(new) AS new_articles, sum(errors) AS errors FROM crawl_runs "
               "GROUP BY source ORDER BY last_run DESC",
        "title": "Source health (crawl runs per source)"},
}

TABLES: dict[str, dict[str, Any]] = {
    "articles": {"description": "One stored page per canonical URL: cleaned text and metadata.",
                 "columns": {"source": "crawl source (radar.yaml)", "source_name": "来源 the page credits",
                             "doc_number": "发文字号", "issuer": "发文机关", "region": "most specific place",
                             "body": "cleaned text", "story_id": "the story it belongs to"}},
    "events": {"description": "One real-world event (signing, opening, trade figure), however many articles "
                              "report it.",
               "columns": {"type": "signing / opening / trade", "stage": "signed, started, producing, completed, "
                           "opened", "amount_cny": "amount in yuan", "region": "where (全国 for national figures)",
                           "retrospective": "1 when the event is history, not news"}},
    "event_mentions": {"description": "An article reporting an event."},
    "stories": {"description": "A story, however many pages carry it.",
                "columns": {"source_count": "distinct crawl sources", "sources": "JSON list of them"}},
    "article_revisions": {"description": "Earlier text of a changed page."},
    "article_urls": {"description": "Every URL known to lead to an article."},
    "attachments": {"description": "Linked PDF/DOCX with extracted text."},
    "crawl_runs": {"description": "One crawl of a source: status, counts and errors."},
    "digests": {"description": "Digests (the outbox), one per recipient and period."},
    "article_search": {"description": "The search index (character tokens); query it through the `search` "
                                      "canned query or search_match()/search_hit().", "hidden": True},
}


def metadata() -> dict[str, Any]:
    """Datasette metadata: titles, descriptions, canned queries."""
    return {"title": "Policy Radar", "description": "Articles, events and stories stored by Policy Radar.",
            "databases": {DATABASE: {"tables": TABLES, "queries": CANNED}}}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8001, show_default=True)
@click.option("--truncate", type=click.IntRange(min=20), default=120, show_default=True,
              help="Cut long cells (body …) to this many characters in table views.")
@click.pass_context
def browse(ctx: click.Context, host: str, port: int, truncate: int) -> None:
    """Explore the SQLite database in Datasette (install the extra: pip install 'policy-radar[browse]').

    Canned queries: search (Chinese full-text, as radar search), recent signings, openings and
    trade figures, stories with several sources, source health."""
    from sqlalchemy.engine import make_url

    from storage.db import normalize_url, open_database

    cfg = ctx_config(ctx)
    url = make_url(normalize_url(cfg.settings.database_url))
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.UsageError("radar browse serves a SQLite database; for PostgreSQL use radar sql")
    if importlib.util.find_spec("datasette") is None:
        raise click.ClickException("Datasette is not installed: pip install 'policy-radar[browse]'")
    engine, _factory = open_database(cfg.settings.database_url)  # the search index exists from 0007 on
    engine.dispose()
    path = Path(url.database).expanduser()
    with tempfile.TemporaryDirectory(prefix="radar-browse-") as tmp:
        link = Path(tmp) / f"{DATABASE}.db"  # Datasette names a database after its file
        link.symlink_to(path.resolve())
        meta = Path(tmp) / "metadata.json"
        meta.write_text(json.dumps(metadata(), ensure_ascii=False), encoding="utf-8")
        command = [sys.executable, "-m", "datasette", "serve", str(link), "--metadata", str(meta),
                   "--plugins-dir", str(PLUGINS), "--setting", "truncate_cells_html", str(truncate),
                   "--host", host, "--port", str(port)]
        click.echo(f"Datasette on http://{host}:{port}/{DATABASE} (Ctrl-C stops it)", err=True)
        raise SystemExit(_serve(command))


def _serve(command: list[str]) -> int:
    """Run Datasette until it ends; a SIGTERM or SIGHUP to ``radar browse`` is passed on to it,
    so that a supervisor stopping radar browse stops Datasette too instead of orphaning it on
    its port. Ctrl-C reaches both already (one foreground process group)."""
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        try:
            code = child.wait()
        except KeyboardInterrupt:
            continue  # Datasette got it too: wait for it to end
        return 0 if code in (-signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP) else code
