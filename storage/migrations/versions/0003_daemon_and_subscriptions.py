"""daemon: scheduler job store, subscriptions, health (issue 6)

- ``apscheduler_jobs``: APScheduler's persistent job store (the table ``SQLAlchemyJobStore`` uses);
- ``daemon_status``: who runs the daemon of this database, with a heartbeat;
- ``crawl_runs``: requests, article links seen, challenge pages, errors by kind, HTTP status
  counts and the crawl child's exit code;
- ``digests``: the subscription and period a digest belongs to (its idempotency key is now
  ``subscription|recipient|period``);
- ``digest_events``: claims are per recipient *address* (they were per recipient list); existing
  claims are split so that nobody is mailed an event again after the upgrade.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _new_digest_events(name: str) -> None:
    op.create_table(
        name,
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest_id", "event_id", "recipient"),
        sa.UniqueConstraint("recipient", "event_id", name="uq_digest_events_recipient_event"),
    )


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"], unique=False)

    op.create_table(
        "daemon_status",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", storage.types.AwareDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", storage.types.AwareDateTime(timezone=True), nullable=True),
        sa.Column("lock", sa.Text(), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requests", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("links", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("challenges", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("errors_by_kind", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("status_counts", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("exit_code", sa.Integer(), nullable=True))

    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("period", sa.String(length=64), nullable=False, server_default=""))

    # digest_events: one claim per (address, event). Copy the old per-list claims split by
    # address; where two old lists shared an address, the earliest digest keeps the claim.
    _new_digest_events("digest_events_v3")
    bind = op.get_bind()
    old = sa.table("digest_events", sa.column("digest_id", sa.Integer), sa.column("event_id", sa.Integer),
                   sa.column("recipients", sa.String))
    new = sa.table("digest_events_v3", sa.column("digest_id", sa.Integer), sa.column("event_id", sa.Integer),
                   sa.column("recipient", sa.String))
    seen: set[tuple[str, int]] = set()
    rows = []
    for digest_id, event_id, recipients in bind.execute(
            sa.select(old.c.digest_id, old.c.event_id, old.c.recipients).order_by(old.c.digest_id)):
        for address in dict.fromkeys(a.strip() for a in (recipients or "").split(",") if a.strip()):
            if (address, event_id) not in seen:
                seen.add((address, event_id))
                rows.append({"digest_id": digest_id, "event_id": event_id, "recipient": address})
    if rows:
        op.bulk_insert(new, rows)
    op.drop_table("digest_events")
    op.rename_table("digest_events_v3", "digest_events")


def downgrade() -> None:
    # Read the claims first: on SQLite, recreating ``digests`` to drop its columns deletes the
    # claims through ON DELETE CASCADE.
    bind = op.get_bind()
    claims = sa.table("digest_events", sa.column("digest_id", sa.Integer), sa.column("event_id", sa.Integer))
    digests = sa.table("digests", sa.column("id", sa.Integer), sa.column("recipients", sa.Text))
    rows = [{"digest_id": d, "event_id": e, "recipients": r} for d, e, r in bind.execute(
        sa.select(claims.c.digest_id, claims.c.event_id, digests.c.recipients).distinct()
        .join(digests, digests.c.id == claims.c.digest_id))]
    op.drop_table("digest_events")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("period")
        batch_op.drop_column("subscription")
    op.create_table(
        "digest_events",
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["digest_id"], ["digests.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("digest_id", "event_id"),
        sa.UniqueConstraint("recipients", "event_id", name="uq_digest_events_recipients_event"),
    )
    if rows:
        op.bulk_insert(sa.table("digest_events", sa.column("digest_id", sa.Integer),
                                sa.column("event_id", sa.Integer), sa.column("recipients", sa.String)), rows)
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        for column in ("exit_code", "status_counts", "errors_by_kind", "challenges", "links", "requests"):
            batch_op.drop_column(column)
    op.drop_table("daemon_status")
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
