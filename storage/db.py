"""Engines, sessions and migrations. The only module that knows how to reach the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.search import register_functions

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Let users write ``postgresql://`` and get the psycopg 3 driver we install."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; for SQLite files the folder is created and WAL mode switched on
    (with ``synchronous=NORMAL``) so a reader (``radar sql``) never blocks the crawler."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit no longer waits for fsync (checkpoints still sync). An
            # application crash loses nothing; a power cut may lose the last commits, never the
            # database. Storing one article per transaction was fsync-bound before.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            register_functions(dbapi_conn)  # the search index's triggers call them

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?([\w]+)", re.M)


def head_revision() -> str | None:
    """The newest migration's id, read from the files (None unless there is exactly one head)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for kind, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value != "None":
                (revisions if kind == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database).

    A database already at the newest revision is left alone without loading Alembic: every
    crawl process opens the database, and most find nothing to do.
    """
    head = head_revision()
    if head is not None and inspect(engine).has_table("alembic_version"):
        with engine.connect() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if current == [head]:
            return
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def is_migrated(engine: Engine) -> bool:
    """Whether the database has Policy Radar's tables at all."""
    return inspect(engine).has_table("alembic_version")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (rows are read after the transaction)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def open_database(url: str, *, migrate_schema: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for ``url``, migrated to the newest schema."""
    engine = make_engine(url)
    if migrate_schema:
        migrate(engine)
    return engine, session_factory(engine)
