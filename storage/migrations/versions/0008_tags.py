"""articles.tags, events.tags: the source's tags, stored with what it brought (issue 23)

- ``articles.tags``: the ``tags:`` of the article's source when it was stored, as ``,a,b,``
  (``storage.tags``); articles stored before have none;
- ``events.tags``: the tags of every source that reported the event; events stored before have
  none.

Tags change with the config: a change applies to articles stored after it, never to rows stored
before (they keep the tags they were stored with).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch rebuild: on SQLite a rebuild drops the old table, and with
    # foreign keys on that deletes every row that points at it (migration 0006)
    for table in ("articles", "events"):
        op.add_column(table, sa.Column("tags", sa.String(length=500), nullable=False, server_default=""))


def downgrade() -> None:
    for table in ("events", "articles"):
        op.drop_column(table, "tags")
