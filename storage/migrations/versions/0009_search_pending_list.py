"""article_search_tokens: a 16 MB GIN pending list on PostgreSQL (issue 22)

Indexes built by 0007 before this kept PostgreSQL's 4 MB default, so storing an article merged
its keys into the index in many small sorts (``storage.search.PENDING_LIST_KB`` says why).
Nothing changes on SQLite.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_LIST_KB = 16384  # storage.search.PENDING_LIST_KB when this was written


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute(f"ALTER INDEX article_search_tokens SET (gin_pending_list_limit = {PENDING_LIST_KB})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER INDEX article_search_tokens RESET (gin_pending_list_limit)")
