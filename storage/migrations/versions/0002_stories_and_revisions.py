"""stories, near-duplicate index, revisions and HTTP validators (issue 5)

- ``stories``: one row per story (cluster of reposts / near-duplicates / the same 发文字号);
- ``articles``: ``story_id``, ``story_match``, ``story_similarity``, ``doc_key`` and the page's
  ``etag`` / ``last_modified``; every existing article opens a story of its own;
- ``near_bands``: the MinHash-LSH band keys of every article (articles stored before this
  migration are indexed here, each opening a story of its own);
- ``article_revisions``: earlier texts of changed pages, with what changed;
- ``page_validators``: ETag / Last-Modified of listing pages for conditional requests.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_seen_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stories_article_id"), ["article_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stories_first_seen_at"), ["first_seen_at"], unique=False)

    # Plain ALTER TABLE, never batch mode: on SQLite a batch "recreate" drops the articles table,
    # and with foreign keys on that cascades into article_urls, attachments and events.
    conn = op.get_bind()
    # a SQLite database downgraded from here keeps these columns (see downgrade)
    present = {c["name"] for c in sa.inspect(conn).get_columns("articles")}
    if "story_id" not in present:
        if conn.dialect.name == "sqlite":
            op.execute("ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories (id) ON DELETE SET NULL")
        else:
            op.add_column("articles", sa.Column("story_id", sa.Integer(), nullable=True))
            op.create_foreign_key("fk_articles_story_id_stories", "articles", "stories", ["story_id"], ["id"],
                                  ondelete="SET NULL")
    for column in (sa.Column("story_match", sa.String(length=16), nullable=False, server_default=""),
                   sa.Column("story_similarity", sa.Float(), nullable=True),
                   sa.Column("doc_key", sa.String(length=300), nullable=False, server_default=""),
                   sa.Column("etag", sa.String(length=300), nullable=False, server_default=""),
                   sa.Column("last_modified", sa.String(length=64), nullable=False, server_default="")):
        if column.name not in present:
            op.add_column("articles", column)
    op.create_index("ix_articles_story_id", "articles", ["story_id"], unique=False)
    op.create_index("ix_articles_doc_key", "articles", ["doc_key"], unique=False)

    op.create_table(
        "near_bands",
        sa.Column("band_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band_key", "article_id"),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("paragraphs_added", sa.Integer(), nullable=False),
        sa.Column("paragraphs_removed", sa.Integer(), nullable=False),
        sa.Column("paragraphs_changed", sa.Integer(), nullable=False),
        sa.Column("chars_added", sa.Integer(), nullable=False),
        sa.Column("chars_removed", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("article_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_revisions_article_id"), ["article_id"], unique=False)

    op.create_table(
        "page_validators",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=300), nullable=False),
        sa.Column("last_modified", sa.String(length=64), nullable=False),
        sa.Column("checked_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )

    _backfill(conn)


def _backfill(conn: sa.Connection) -> None:
    """Every article stored before stories existed opens a story of its own and enters the
    near-duplicate index, so later reposts of it are found."""
    from crawler.dedupe.neardup import fingerprint
    from crawler.dedupe.urls import document_key

    articles = sa.table("articles", sa.column("id"), sa.column("title"), sa.column("body"), sa.column("fetched_at"),
                        sa.column("doc_number"), sa.column("issuer"))
    conn.execute(sa.text(
        "INSERT INTO stories (id, article_id, title, first_seen_at, last_seen_at, article_count, source_count, "
        "sources) SELECT id, id, title, fetched_at, fetched_at, 1, 1, '[]' FROM articles"
    ))
    conn.execute(sa.text("UPDATE articles SET story_id = id, story_match = 'first'"))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('stories', 'id'), "
                             "COALESCE((SELECT max(id) FROM stories), 0) + 1, false)"))
    bands = sa.table("near_bands", sa.column("band_key"), sa.column("article_id"))
    rows = conn.execute(sa.select(articles.c.id, articles.c.body, articles.c.doc_number, articles.c.issuer)).all()
    for article_id, body, doc_number, issuer in rows:
        keys = fingerprint(body or "").bands
        if keys:
            conn.execute(bands.insert(), [{"band_key": k, "article_id": article_id} for k in keys])
        doc_key = document_key(doc_number or "", issuer or "")
        if doc_key:
            conn.execute(articles.update().where(articles.c.id == article_id).values(doc_key=doc_key))


def downgrade() -> None:
    op.drop_table("page_validators")
    with op.batch_alter_table("article_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_revisions_article_id"))
    op.drop_table("article_revisions")
    op.drop_table("near_bands")
    op.drop_index("ix_articles_doc_key", table_name="articles")
    op.drop_index("ix_articles_story_id", table_name="articles")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite can drop a column only by rebuilding the table, which (foreign keys on) would
        # empty every table that references articles; the new columns stay, unused and nullable
        # or defaulted, and story_id is cleared so nothing points into the dropped table.
        op.execute("UPDATE articles SET story_id = NULL")
    else:
        op.drop_constraint("fk_articles_story_id_stories", "articles", type_="foreignkey")
        for column in ("last_modified", "etag", "doc_key", "story_similarity", "story_match", "story_id"):
            op.drop_column("articles", column)
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_first_seen_at"))
        batch_op.drop_index(batch_op.f("ix_stories_article_id"))
    op.drop_table("stories")
