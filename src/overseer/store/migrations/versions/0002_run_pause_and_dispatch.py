"""Runs: a paused flag (no new tasks start) and how the run's tasks are dispatched.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 07:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))
        # "local": the process that starts the run executes it; "queue": overseer workers do.
        batch.add_column(sa.Column("dispatch", sa.String(length=16), nullable=False, server_default="local"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("dispatch")
        batch.drop_column("paused")
