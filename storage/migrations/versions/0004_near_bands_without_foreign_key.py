"""near_bands: no foreign key to articles

Checking the key for every band row was 60 % of what inserting an article's index rows costs
on PostgreSQL (twelve rows per article). The index is derived data: Policy Radar never deletes
articles, and a row left behind by an article deleted by hand is harmless (every candidate is
looked up in ``articles`` and its exact Jaccard checked before anything joins it).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_sqlite(foreign_key: bool) -> None:
    # SQLite cannot drop or add a constraint: copy the rows into a table made without (or with) it
    reference = ", FOREIGN KEY (article_id) REFERENCES articles (id) ON DELETE CASCADE" if foreign_key else ""
    op.execute("CREATE TABLE near_bands_new (band_key INTEGER NOT NULL, article_id INTEGER NOT NULL, "
               f"PRIMARY KEY (band_key, article_id){reference}) WITHOUT ROWID")
    op.execute("INSERT INTO near_bands_new (band_key, article_id) SELECT band_key, article_id FROM near_bands")
    op.execute("DROP TABLE near_bands")
    op.execute("ALTER TABLE near_bands_new RENAME TO near_bands")


def _constraint_name() -> str | None:
    for fk in sa.inspect(op.get_bind()).get_foreign_keys("near_bands"):
        if fk["referred_table"] == "articles":
            return str(fk["name"])
    return None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=False)
        return
    name = _constraint_name()
    if name:
        op.drop_constraint(name, "near_bands", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(foreign_key=True)
        return
    op.execute("DELETE FROM near_bands WHERE article_id NOT IN (SELECT id FROM articles)")
    op.create_foreign_key("near_bands_article_id_fkey", "near_bands", "articles", ["article_id"], ["id"],
                          ondelete="CASCADE")
