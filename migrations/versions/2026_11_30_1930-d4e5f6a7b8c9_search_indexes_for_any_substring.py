"""search indexes for any substring (pg_trgm) on PostgreSQL

Search folds Vietnamese diacritics into each record's `search_text` and matches any substring of it, Chinese included
(LIKE '%古籍%'). On PostgreSQL a trigram GIN index serves those LIKE patterns (three characters or more; shorter ones
scan); SQLite scans the folded column (measured in bench/search.py).

Revision ID: d4e5f6a7b8c9
Revises: c71f0d56e2a1
Create Date: 2026-11-30 19:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'd4e5f6a7b8c9'
down_revision: str | None = 'c71f0d56e2a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("agreement", "visit", "expert_exchange", "programme", "digitization_project", "institution", "person")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension: the database's owner may create it
    for table in TABLES:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_search_trgm ON {table} USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_trgm")
