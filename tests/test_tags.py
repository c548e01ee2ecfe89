"""Tags stored with articles and events (migration 0008), on SQLite and PostgreSQL: they are the
source's tags when stored, an event gathers those of every source reporting it, and
subscriptions, ``radar search --tag`` and plain SQL filter on them."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import select, text

from crawler.article import Article
from crawler.cli import main
from crawler.events.model import Event
from storage.db import open_database, transaction
from storage.events import record_events
from storage.models import ArticleRow, EventRow
from storage.outbox import unclaimed_events
from storage.queries import store_article
from storage.readonly import run_query
from storage.search import Filters, search
from storage.tags import merged, tags_of, tags_text
from tests.old_rows import insert_old_article, insert_old_event

NOW = datetime(2025, 7, 2, 9, 30, tzinfo=UTC)
EVENT = Event(type="signing", subtype="project", amount_text="50亿元", amount=50e8, currency="CNY", amount_cny=50e8,
              region="江西省赣州市", evidence="比亚迪与赣州市签约，投资50亿元", start=0, end=15, confidence=0.9,
              rule="signing")


def _store(factory, n: int, source: str, tags: tuple[str, ...], body: str) -> int:
    with transaction(factory) as s:
        outcome = store_article(s, Article(url=f"http://{source}.test/{n}.html", title=f"比亚迪签约赣州 {n}",
                                           body=body), source=source, fetched_at=NOW, tags=tags)
        record_events(s, outcome.article_id, [EVENT], published=NOW.date(), seen_at=NOW, new_article=True,
                      tags=tags)
        return outcome.article_id


def test_column_text() -> None:
    assert tags_text(["policy", " investment", "policy", ""]) == ",policy,investment,"
    assert tags_text([]) == "" and tags_of("") == ()
    assert tags_of(merged(",a,", ["b", "a"])) == ("a", "b")


def test_articles_and_events_keep_their_sources_tags(db_url: str) -> None:
    engine, factory = open_database(db_url)
    gov = _store(factory, 1, "gov", ("policy", "100%_sure"), "比亚迪与赣州市签约，投资50亿元建设电池项目。")
    news = _store(factory, 2, "news", ("news",), "消息：比亚迪与赣州市签约，投资50亿元。")
    with factory() as s:
        assert s.get(ArticleRow, gov).tags == ",policy,100%_sure," and s.get(ArticleRow, news).tags == ",news,"
        event = s.scalars(select(EventRow)).one()  # one event, reported by both sources
        assert tags_of(event.tags) == ("policy", "100%_sure", "news")
        # subscriptions: the event carries one of the tags; none of them: not wanted
        assert [v.event.id for v in unclaimed_events(s, "a@x.org", tags=["news", "x"])] == [event.id]
        assert unclaimed_events(s, "a@x.org", tags=["investment"]) == []
        # a LIKE pattern's own characters in a tag match only themselves
        assert unclaimed_events(s, "a@x.org", tags=["100%"]) == []
    with engine.connect() as conn:
        hits = search(conn, "比亚迪", filters=Filters(tag="policy"))
        assert [h.id for h in hits] == [gov]
        assert search(conn, "比亚迪", filters=Filters(tag="polic")) == []
    engine.dispose()
    # the documented SQL
    result = run_query(db_url, "SELECT source FROM articles WHERE tags LIKE '%,news,%'")
    assert [list(r) for r in result.rows] == [["news"]]
    cli = CliRunner().invoke(main, ["search", "比亚迪", "--tag", "news", "--format", "csv"],
                             env={"RADAR_DATABASE_URL": db_url, "RADAR_CONFIG": ""})
    assert cli.exit_code == 0, cli.output
    assert "http://news.test/2.html" in cli.output and "http://gov.test/1.html" not in cli.output


def test_rows_stored_before_tags_fall_back_to_their_sources_tags(db_url: str) -> None:
    """After the upgrade, articles and events stored before have no tags; a subscription's tags
    match such an event when its source carries one of them in the config today."""
    from alembic import command

    from storage.db import _alembic_config, make_engine

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0007")
    with engine.begin() as c:
        insert_old_article(c)
        insert_old_event(c, 1, "signing", "project")
    command.upgrade(_alembic_config(engine), "head")
    engine.dispose()
    engine, factory = open_database(db_url)
    with factory() as s:
        assert s.execute(text("SELECT tags FROM articles")).scalar_one() == ""
        assert s.execute(text("SELECT tags FROM events")).scalar_one() == ""
        assert [v.event.id for v in unclaimed_events(s, "a@x.org", tags=["policy"], tagged_sources=["s"])] == [1]
        assert unclaimed_events(s, "a@x.org", tags=["policy"], tagged_sources=["other"]) == []
    engine.dispose()


def test_a_tag_with_a_comma_is_refused() -> None:
    import pytest

    from crawler.config.sources import parse_config
    from crawler.errors import ConfigError

    entry = {"name": "a", "start_urls": ["http://127.0.0.1/"], "schedule": "every: 1h", "tags": ["policy,news"]}
    with pytest.raises(ConfigError, match="without commas") as info:
        parse_config({"sources": [entry]}, env={})
    assert info.value.key == "tags"
