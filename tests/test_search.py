"""Full-text search (issue 22) on SQLite and PostgreSQL: exact for any term length, kept exact
through inserts, revisions and deletions, the same through ``radar search`` and SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from crawler.article import Article
from crawler.cli import main
from crawler.text.search_tokens import fold, parse_query
from storage.db import open_database, transaction
from storage.queries import store_article
from storage.readonly import run_query
from storage.search import Filters, search

NOW = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    ("比亚迪签约赣州", "比亚迪与赣州市签约，投资50亿元建设新能源电池项目。5G基站同步建设。", "江西省赣州市"),
    ("光伏产业园开工", "光伏组件项目开工，年产芯片10万片。BYD海外工厂投产。", "江西省上饶市"),
    ("進出口數據", "本月進出口總值增長，晶片與積體電路出口簽約額上升。", "广东省深圳市"),
    ("会议纪要", "会议研究了光，伏两个字分开的情况，以及签 约中间有空格。", "北京市"),
    ("单字", "伏", ""),
]


def _store(factory, n: int, title: str, body: str, region: str = "", url: str | None = None):
    with transaction(factory) as session:
        return store_article(session, Article(url=url or f"https://example.gov.cn/a/{n}.html", title=title,
                                              body=body, region=region, source_name="测试网"),
                             source="test", fetched_at=NOW)


def _brute(rows, query: str) -> set[int]:
    parsed = parse_query(query)
    return {i for i, (t, b) in rows.items() if parsed.matches(fold(t) + "\n" + fold(b))}


@pytest.fixture
def db(db_url):
    engine, factory = open_database(db_url)
    ids = {}
    for n, (title, body, region) in enumerate(TEXTS):
        ids[_store(factory, n, title, body, region).article_id] = (title, body)
    yield engine, factory, ids
    engine.dispose()


QUERIES = ["伏", "光", "光伏", "签约", "伏两", "比亚迪", "新能源电池", "5G", "5g", "BYD", "byd", "赣州 签约",
           '"光伏 组件"', "签约 -比亚迪", "晶片", "芯片", "簽約", "進出口", "进出口", "积体电路", "签 约", "，伏",
           "亿元建设新能源", "不存在的词", "10万片"]


@pytest.mark.parametrize("query", QUERIES)
def test_hits_are_exactly_the_articles_containing_the_terms(db, query):
    engine, _factory, rows = db
    with engine.connect() as conn:
        found = {h.id for h in search(conn, query, limit=100)}
    assert found == _brute(rows, query)


def test_one_and_two_character_terms_and_traditional_folding(db):
    engine, _factory, rows = db
    by_title = {t: i for i, (t, _b) in rows.items()}
    with engine.connect() as conn:
        assert {h.id for h in search(conn, "伏", limit=100)} == {by_title["光伏产业园开工"], by_title["会议纪要"],
                                                              by_title["单字"]}
        assert {h.id for h in search(conn, "光伏", limit=100)} == {by_title["光伏产业园开工"]}
        # traditional query finds simplified text and the other way round
        assert {h.id for h in search(conn, "簽約", limit=100)} == {by_title["比亚迪签约赣州"], by_title["進出口數據"]}
        assert {h.id for h in search(conn, "进出口数据", limit=100)} == {by_title["進出口數據"]}
        hit = search(conn, "BYD", limit=5)[0]
        assert "【BYD】" in hit.snippet


def test_revisions_and_deletions_keep_the_index_exact(db):
    engine, factory, rows = db
    first = next(i for i, (t, _b) in rows.items() if t == "比亚迪签约赣州")
    outcome = _store(factory, 0, "宁德时代落户", "宁德时代与赣州市签约储能项目。", url="https://example.gov.cn/a/0.html")
    assert outcome.status == "updated" and outcome.article_id == first
    with engine.connect() as conn:
        assert search(conn, "比亚迪", limit=10) == []
        assert [h.id for h in search(conn, "储能", limit=10)] == [first]
        assert [h.id for h in search(conn, "宁德时代", limit=10)] == [first]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": first})
    with engine.connect() as conn:
        assert search(conn, "储能", limit=10) == []
        assert search(conn, "宁德", limit=10) == []
        assert {h.id for h in search(conn, "签约", limit=10)} == _brute(
            {i: r for i, r in rows.items() if i != first}, "签约")


def test_filters_and_relevance(db):
    engine, _factory, _rows = db
    with engine.connect() as conn:
        assert {h.region for h in search(conn, "签约", filters=Filters(region="江西"), limit=10)} == {"江西省赣州市"}
        assert search(conn, "签约", filters=Filters(source="别的网"), limit=10) == []
        assert len(search(conn, "签约", filters=Filters(source="测试网"), limit=10)) == 2
        assert search(conn, "签约", filters=Filters(since=datetime(2030, 1, 1, tzinfo=UTC)), limit=10) == []
        ranked = search(conn, "签约", sort="relevance", limit=10)
        assert ranked[0].title == "比亚迪签约赣州"  # in the title too


def test_sql_level_search(db, db_url):
    _engine, _factory, rows = db
    if db_url.startswith("sqlite"):
        query = ("SELECT id FROM articles WHERE id IN (SELECT rowid FROM article_search "
                 "WHERE article_search MATCH search_match('签约 -比亚迪')) AND search_hit(title, body, '签约 -比亚迪') "
                 "ORDER BY id DESC")
    else:
        query = "SELECT id FROM search_articles('签约 -比亚迪')"
    result = run_query(db_url, query)
    assert {r[0] for r in result.rows} == _brute(rows, "签约 -比亚迪")
    if not db_url.startswith("sqlite"):
        for q in ["伏", "光伏", "簽約", "BYD", "亿元建设新能源"]:
            found = {r[0] for r in run_query(db_url, f"SELECT id FROM search_articles('{q}')").rows}
            assert found == _brute(rows, q), q


def test_radar_search_command(db, db_url):
    runner = CliRunner()
    env = {"RADAR_DATABASE_URL": db_url, "RADAR_CONFIG": ""}
    out = runner.invoke(main, ["search", "签约", "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {d["title"] for d in data} == {"比亚迪签约赣州", "進出口數據"}
    assert all("【" in d["snippet"] for d in data)
    table = runner.invoke(main, ["search", "光伏", "--region", "江西"], env=env)
    assert table.exit_code == 0 and "光伏产业园开工" in table.stdout
    assert "traditional" in table.stderr


def test_migration_indexes_articles_stored_before(db_url, capsys):
    from alembic import command

    from storage.db import _alembic_config, make_engine
    from tests.old_rows import insert_old_article

    engine = make_engine(db_url)
    command.upgrade(_alembic_config(engine), "0006")
    rows = {n: (f"旧文章{n}", f"第{n}篇：光伏与簽約" if n % 2 else f"第{n}篇：芯片") for n in range(1, 41)}
    with engine.begin() as conn:
        for n, (t, b) in rows.items():
            insert_old_article(conn, n, t, b)
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as conn:
        for query in ("光伏", "签约", "芯片", "伏", "第3篇", "旧文章1"):
            assert {h.id for h in search(conn, query, limit=100)} == _brute(rows, query), query
    engine.dispose()


def test_integer_tokens_are_the_text_tokens_numbered():
    """PostgreSQL's integer tokens are computed apart from the text tokens SQLite indexes; they
    must be the same tokens, or one database would find what the other misses."""
    from pathlib import Path

    from crawler.text.search_tokens import index_numbers, text_tokens, token_number

    seeds = sorted((Path(__file__).resolve().parents[1] / "crawler" / "replica" / "seeds").iterdir())[:6]
    cases = [(t, b) for t, b, _r in TEXTS] + [
        ("", ""), ("a", ""), ("", "伏"), ("snake_case 下划线_分开", "emoji 🚀光伏🚀 ①② Ⅻ ٣٤ ＡＢＣ１２"),
        ("Ünïcode café", "ﬁ ligature, 〇一二 and \u0301 a lone mark"),
    ] + [("", p.read_text("utf-8", errors="replace")) for p in seeds]
    assert len(cases) > 12
    for title, body in cases:
        assert index_numbers(title, body) == sorted({token_number(t) for t in text_tokens(title, body)}), title



def _partitions(conn) -> dict[str, list[str]]:
    """Each partition of article_search with its GIN index's options."""
    rows = conn.execute(text(
        "SELECT c.relname, coalesce(x.reloptions, '{}') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_index g ON g.indrelid = c.oid JOIN pg_class x ON x.oid = g.indexrelid JOIN pg_am m ON m.oid = x.relam "
        "WHERE i.inhparent = to_regclass('article_search') AND m.amname = 'gin'")).all()
    return {name: list(options) for name, options in rows}


def test_postgres_migration_partitions_an_index_built_before(postgres_url):
    from alembic import command

    from storage import search as search_index
    from storage.db import _alembic_config, make_engine
    from tests.old_rows import insert_old_article

    engine = make_engine(postgres_url)
    command.upgrade(_alembic_config(engine), "0008")
    with engine.begin() as conn:  # the table as 0007 made it before it was partitioned
        for statement in search_index.POSTGRES_DROP[4:]:
            conn.execute(text(statement))
        conn.execute(text("CREATE TABLE article_search (article_id integer PRIMARY KEY REFERENCES articles(id) "
                          "ON DELETE CASCADE, tokens integer[] NOT NULL)"))
        conn.execute(text("CREATE INDEX article_search_tokens ON article_search USING gin (tokens)"))
        rows = {n: (f"旧文章{n}", f"第{n}篇：光伏与簽約" if n % 2 else f"第{n}篇：芯片") for n in range(1, 41)}
        for n, (t, b) in rows.items():
            insert_old_article(conn, n, t, b)
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as conn:
        assert _partitions(conn) == {"article_search_p0": [f"gin_pending_list_limit={search_index.PENDING_LIST_KB}"]}
        for query in ("光伏", "签约", "芯片", "伏", "第3篇", "旧文章1"):
            assert {h.id for h in search(conn, query, limit=100)} == _brute(rows, query), query
    engine.dispose()


def test_postgres_partitions_are_made_beside_concurrent_writers(postgres_url, monkeypatch):
    """Two writers store articles at once, each in transactions of several articles, across
    many partition boundaries: every partition is made beside them, nothing waits forever, and
    every article is found, also after the index is rebuilt; a deleted article is forgotten."""
    import threading

    from storage import search as search_index

    monkeypatch.setattr(search_index, "PARTITION_IDS", 4)
    engine, factory = open_database(postgres_url)
    bodies: dict[int, tuple[str, str]] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for batch in range(6):
                with transaction(factory) as session:
                    for n in range(3):
                        title, body = f"{name}{batch}-{n}", f"{name}写入第{batch}批第{n}篇：光伏{'签约' * (n + 1)}"
                        out = store_article(session, Article(url=f"https://example.gov.cn/{name}/{batch}/{n}.html",
                                                             title=title, body=body, source_name="测试网"),
                                            source="test", fetched_at=NOW)
                        with lock:
                            bodies[out.article_id] = (title, body)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("甲", "乙")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert len(bodies) == 36
    with engine.connect() as conn:
        made = _partitions(conn)
        assert len(made) >= max(bodies) // 4 + 1
        assert all(options == [f"gin_pending_list_limit={search_index.PENDING_LIST_KB}"] for options in made.values())
        # every complete partition's pending list was merged as the writers moved on (merging
        # again finds nothing), or each query would read them all
        newest = max(bodies) // 4
        complete = [n for n in range(newest - 1) if f"article_search_p{n}" in made]
        assert len(complete) >= 5
        pending = conn.execute(text(
            "SELECT c.relname, gin_clean_pending_list(x.indexrelid) FROM pg_index x "
            "JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_am m ON m.oid = i.relam WHERE m.amname = 'gin' "
            "AND c.oid = ANY(ARRAY(SELECT to_regclass(n) FROM unnest(CAST(:names AS text[])) n))"),
            {"names": [f"article_search_p{n}" for n in complete]}).all()
        assert len(pending) == len(complete) and all(pages == 0 for _name, pages in pending), pending
        for query in ("光伏", "签约签约签约", "甲3", "乙写入第5批", "伏签"):
            assert {h.id for h in search(conn, query, limit=100)} == _brute(bodies, query), query
    gone = min(bodies)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": gone})
        assert conn.execute(text("SELECT count(*) FROM article_search WHERE article_id = :id"),
                            {"id": gone}).scalar_one() == 0
        conn.execute(text("TRUNCATE article_search"))
        assert search_index.fill(conn) == 35
    del bodies[gone]
    with engine.connect() as conn:
        for query in ("光伏", "签约签约", "甲0"):
            assert {h.id for h in search(conn, query, limit=100)} == _brute(bodies, query), query
    engine.dispose()
