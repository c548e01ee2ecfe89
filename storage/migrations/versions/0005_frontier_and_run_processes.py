"""the frontier, listing walks, and the process of each crawl run (issue 26)

- ``frontier``: article links discovered and not stored yet, with their attempts and, once
  given up, why;
- ``listing_walks``: the listing page an unfinished walk resumes from, and when a walk last
  completed;
- ``crawl_runs``: the process id and host of the crawl, so a run whose process is gone is
  marked ``abandoned``.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "frontier",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("discovered_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("given_up_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("given_up_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("url", "source"),
    )
    op.create_index("ix_frontier_source_given_up", "frontier", ["source", "given_up_at"], unique=False)
    op.create_table(
        "listing_walks",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("resume_url", sa.String(length=2048), nullable=False),
        sa.Column("resume_depth", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("host")
        batch.drop_column("pid")
    op.drop_table("listing_walks")
    op.drop_index("ix_frontier_source_given_up", table_name="frontier")
    op.drop_table("frontier")
