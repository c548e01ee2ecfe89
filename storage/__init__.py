"""Storage: SQLAlchemy models, queries and Alembic migrations (SQLite by default, PostgreSQL too)."""
