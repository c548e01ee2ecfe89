"""article_search: the character-level full-text index (issue 22)

SQLite: a contentless FTS5 table of each article's unigram and bigram tokens, rowid = article id,
kept by triggers on ``articles`` (they call ``search_tokens``, registered on every connection by
``storage.db``). PostgreSQL: ``article_search(article_id, tokens int[])`` with a GIN index and
the SQL functions ``search_fold``, ``search_query_tokens``, ``search_hit`` and
``search_articles``. Existing articles are indexed here, with a progress bar on stderr.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

from storage import search

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    for statement in search.SQLITE_SCHEMA if sqlite else search.postgres_schema():
        # psycopg reads % as a placeholder even without parameters
        conn.exec_driver_sql(statement if sqlite else statement.replace("%", "%%"))
    total = conn.exec_driver_sql("SELECT count(*) FROM articles").scalar_one()
    search.fill(conn, search.stderr_progress if total > 5000 else None)


def downgrade() -> None:
    conn = op.get_bind()
    for statement in search.SQLITE_DROP if conn.dialect.name == "sqlite" else search.POSTGRES_DROP:
        conn.exec_driver_sql(statement)
