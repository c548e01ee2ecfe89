"""Locks tied to one database that die with their process.

``radar daemon`` holds the ``daemon`` lock for its whole life, so a second daemon on the same
database refuses to start; whoever sends digests holds the ``digest`` lock while sending, so
the daemon and a manual ``radar digest`` never send the same outbox row at once; every crawl
holds its source's ``crawl`` lock (``DatabaseLock(url, "crawl", key=source)``), so a manual
``radar crawl`` and the daemon's scheduled crawl or re-check of one source never fetch its site
twice over at the same time.

- PostgreSQL: a session-level advisory lock on a connection of its own, keyed by the lock name
  and the current schema (each schema is a Policy Radar database of its own; a crawl lock's key
  adds the source name). PostgreSQL drops it when the connection closes, also when the process
  is killed.
- SQLite: ``flock`` on a file next to the database file (``radar.sqlite3.daemon.lock``,
  ``radar.sqlite3.crawl-<source>.lock``); the kernel drops it when the process dies. The
  descriptor is not inherited by child processes (crawls), so an orphaned crawl never keeps a
  dead daemon's lock.

A lock row with a heartbeat would need a timeout to tell a dead holder from a slow one; these
locks need none.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from crawler.config.sources import NAME_RE
from storage.db import make_engine, normalize_url

#: First key of the two-key advisory lock, per lock name ("PR" + a digit).
_PG_KEYS = {"daemon": 0x50520001, "digest": 0x50520002, "crawl": 0x50520003}
#: Locks that exist once per key (a crawl lock per source), not once per database.
_KEYED = {"crawl"}


class DatabaseLock:
    """An exclusive lock named ``name`` on the database at ``url``.

    Thread-safe: threads of one process queue for it like separate processes do. ``acquire``
    returns False (never raises) when another holder has it; ``verify`` says whether a held
    lock is still held (a PostgreSQL connection can drop).
    """

    def __init__(self, url: str, name: str, *, key: str = "") -> None:
        if name not in _PG_KEYS:
            raise ValueError(f"unknown lock {name!r}")
        if (name in _KEYED) != bool(key):
            raise ValueError(f"the {name} lock {'needs' if name in _KEYED else 'takes no'} key")
        if key and not NAME_RE.match(key):  # a source name: safe in a file name
            raise ValueError(f"lock key {key!r} is not a source name")
        self.url = normalize_url(url)
        self.name = name
        self.key = key
        # the advisory lock's second key: the schema (and the source), hashed by PostgreSQL
        self._pg_scope = "/" + key if key else ""
        parsed = make_url(self.url)
        self.backend = parsed.get_backend_name()
        self._thread_lock = threading.Lock()
        self._held = False
        self._fd: int | None = None
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self.path: Path | None = None
        if self.backend == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                suffix = f"{name}-{key}" if key else name
                self.path = Path(database).expanduser().resolve().with_name(Path(database).name + f".{suffix}.lock")
        elif self.backend != "postgresql":
            raise ValueError(f"no {name} lock for {self.backend} databases; use SQLite or PostgreSQL")

    def describe(self) -> str:
        """How the lock is held, for messages: the lock file or the advisory lock."""
        if self.backend == "postgresql":
            scope = f"current_schema() || '{self._pg_scope}'" if self.key else "current_schema()"
            return f"PostgreSQL advisory lock {_PG_KEYS[self.name]:#x}/hashtext({scope})"
        return f"lock file {self.path}" if self.path else "in-process lock (in-memory database)"

    def holder(self) -> int | None:
        """The process id the lock file names (SQLite), when another process holds the lock.

        None when not known: PostgreSQL's advisory locks name only a server backend."""
        if self.path is None or self._held:
            return None
        try:
            text_ = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text_) if text_.isdigit() else None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._held

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds (0: try once). True when taken."""
        deadline = time.monotonic() + timeout
        got = self._thread_lock.acquire(timeout=timeout) if timeout > 0 else self._thread_lock.acquire(blocking=False)
        if not got:
            return False
        try:
            while True:
                if self._try_acquire():
                    self._held = True
                    return True
                if time.monotonic() >= deadline:
                    self._thread_lock.release()
                    return False
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        except BaseException:
            self._thread_lock.release()
            raise

    def _try_acquire(self) -> bool:
        if self.backend == "postgresql":
            try:
                return self._try_advisory()
            except Exception:
                # a connection the server dropped (it restarted, or went away and came back)
                # stays unusable: once more on a new one
                return self._try_advisory()
        if self.path is None:
            return True  # in-memory SQLite: only this process can see the database
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # O_CLOEXEC by default
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return True

    def _advisory_params(self) -> dict[str, object]:
        return {"k": _PG_KEYS[self.name], "scope": self._pg_scope}

    def _try_advisory(self) -> bool:
        try:
            got = self._connection().execute(
                text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema() || :scope))"),
                self._advisory_params()).scalar()
        except Exception:
            self._drop_connection()
            raise
        return bool(got)

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            if self._engine is None:
                self._engine = make_engine(self.url, poolclass=NullPool)
            # autocommit: an advisory lock outlives transactions, and a transaction left open for
            # months would hold back VACUUM
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def verify(self) -> bool:
        """True while the lock is still held (PostgreSQL: the connection is alive)."""
        if not self._held:
            return False
        if self.backend != "postgresql":
            return True
        try:
            assert self._conn is not None
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def keep(self) -> bool | None:
        """Check a held lock and, if its PostgreSQL connection dropped, take it again on a new one.

        True: held. False: lost, another holder took it meanwhile (stop doing what it guards).
        None: cannot tell, the database is unreachable (ask again later).
        """
        if self.verify():
            return True
        if not self._held:
            return False
        self._drop_connection()
        try:
            return self._try_acquire()
        except Exception:
            return None

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        if not self._held:
            return
        try:
            if self.backend == "postgresql":
                try:
                    if self._conn is not None:
                        self._conn.execute(text("SELECT pg_advisory_unlock(:k, hashtext(current_schema() || :scope))"),
                                           self._advisory_params())
                except Exception:
                    self._drop_connection()  # a dead connection has released it already
            elif self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._held = False
            self._thread_lock.release()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Release the lock and free the connection or file descriptor."""
        self.release()
        self._drop_connection()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
