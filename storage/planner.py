"""Planner statistics for the tables a crawl grows (PostgreSQL).

psycopg prepares a statement it has run five times, and PostgreSQL may then plan it once for all
executions, with the statistics of the moment. A crawl into a new database plans its URL and
body-hash lookups while the tables are nearly empty, gets sequential scans, and keeps them as
the tables grow until the next ANALYZE, which only autovacuum would run (measured: 40 times
slower lookups at 20,000 articles on a server with autovacuum off). So the storing process
analyses the tables it grows itself, on autovacuum's rule: once the rows it added reach a fifth
of what the statistics last counted (at least :data:`MIN_ROWS`). ANALYZE samples a bounded
number of rows and takes no lock that blocks writers; it is a few milliseconds here and
invalidates the stale plans.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)

TABLES = ("articles", "article_urls", "near_bands", "stories")
MIN_ROWS = 500
SHARE = 0.2
_COUNTED = text("SELECT reltuples FROM pg_class WHERE oid = 'articles'::regclass")  # -1: never analysed


class Statistics:
    """Counts the articles one process stores and analyses :data:`TABLES` when they are due."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self.counted: float | None = None  # articles the planner statistics last counted
        self.added = 0

    def grew(self, articles: int) -> bool:
        """Note ``articles`` new articles (committed); analyse if due. Returns whether it did."""
        if not self.enabled or articles <= 0:
            return False
        self.added += articles
        if self.counted is None:
            with self.engine.connect() as conn:
                counted = conn.execute(_COUNTED).scalar()
            self.counted = max(0.0, float(counted or 0.0))
        if self.added < max(MIN_ROWS, SHARE * self.counted):
            return False
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE " + ", ".join(TABLES)))
                counted = conn.execute(_COUNTED).scalar()
        except Exception as exc:  # statistics are an optimisation: storing goes on without them
            # once: a role that may not analyse these tables would otherwise warn at every batch
            log.warning("could not analyse the article tables (not tried again by this process): %s", exc)
            self.enabled = False
            return False
        self.counted, self.added = max(0.0, float(counted or 0.0)), 0
        return True
