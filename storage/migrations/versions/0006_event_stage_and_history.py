"""events: stage, retrospective, where the region came from, and folded breakdowns (issue 20)

- ``stage``: where the project stands (signed, started, producing, completed, opened), set
  here from the subtype for events stored before;
- ``retrospective``: the event's period ended well before the article's date (history, not
  news); events stored before are taken as news;
- ``region_from``: ``text``, ``article`` or ``source``;
- ``details``: a trade release's breakdowns (partner, product, enterprise type, month).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGES = {"agreement": "signed", "project": "signed", "aggregate": "signed", "groundbreaking": "started",
           "production": "producing", "completion": "completed", "business": "opened"}


def upgrade() -> None:
    # plain ADD COLUMN, not a batch rebuild: on SQLite a rebuild drops the old table, and with
    # foreign keys on that deletes every digest_events row that points at an event
    op.add_column("events", sa.Column("stage", sa.String(length=16), nullable=False, server_default=""))
    op.add_column("events", sa.Column("retrospective", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("events", sa.Column("region_from", sa.String(length=16), nullable=False, server_default=""))
    op.add_column("events", sa.Column("details", sa.JSON(), nullable=False, server_default="[]"))
    events = sa.table("events", sa.column("subtype", sa.String), sa.column("stage", sa.String))
    for subtype, stage in _STAGES.items():
        op.execute(events.update().where(events.c.subtype == subtype).values(stage=stage))


def downgrade() -> None:
    for name in ("details", "region_from", "retrospective", "stage"):
        op.drop_column("events", name)
