"""Alembic environment: runs migrations on the engine handed over by ``storage.db.migrate``
(or on ``RADAR_DATABASE_URL`` when invoked through the ``alembic`` command)."""

from __future__ import annotations

import os

from alembic import context

from storage.db import make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url") or os.environ.get("RADAR_DATABASE_URL", "")
        if not url:
            raise SystemExit("set RADAR_DATABASE_URL (or sqlalchemy.url) to run migrations")
        engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
