"""article_search partitioned by article id, its GIN pending list 16 MB (PostgreSQL, issue 22)

The index built by 0007 was one table and one GIN index; storing an article slowed as that index
grew past PostgreSQL's buffers (``storage.search.PARTITION_IDS`` says why). Here it becomes a
table partitioned by ranges of article ids, each partition with its own GIN index, and is filled
again from the articles, with a progress bar on stderr when there are more than 5,000. The
foreign key becomes a trigger on ``articles`` (an article deleted takes its tokens with it).
Nothing changes on SQLite, or where 0007 already made the table partitioned.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

from storage import search

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        return
    kind = conn.exec_driver_sql("SELECT relkind FROM pg_class WHERE oid = to_regclass('article_search')").scalar()
    if kind == "p":
        return
    conn.exec_driver_sql("DROP TABLE article_search")
    for statement in search.POSTGRES_TABLE:
        conn.exec_driver_sql(statement)
    total = conn.exec_driver_sql("SELECT count(*) FROM articles").scalar_one()
    search.fill(conn, search.stderr_progress if total > 5000 else None)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        return
    for statement in ("DROP TRIGGER IF EXISTS article_search_forget ON articles",
                      "DROP FUNCTION IF EXISTS article_search_forget()", "DROP TABLE article_search",
                      "CREATE TABLE article_search (article_id integer PRIMARY KEY REFERENCES articles(id) "
                      "ON DELETE CASCADE, tokens integer[] NOT NULL)",
                      "CREATE INDEX article_search_tokens ON article_search USING gin (tokens)"):
        conn.exec_driver_sql(statement)
    rows = conn.exec_driver_sql("SELECT id, title, body FROM articles ORDER BY id").all()
    search.index_articles(conn, [(int(i), t or "", b or "") for i, t, b in rows], force=True)
