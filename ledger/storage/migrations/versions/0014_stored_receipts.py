"""Intake receipts stored with their manifests: signed once, served as given.

A manifest accepted before this revision has none: its receipt is signed on its first
read (`anchorBy` derived from the settings then, as every read derived it before) and
stored, so later reads and setting changes leave it as it was first served.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = ("anchor_by", "receipt_key", "receipt_signature")


def upgrade() -> None:
    """Add ``manifests.anchor_by``, ``receipt_key`` and ``receipt_signature`` (see
    `ledger.storage.models.ManifestRow`)."""
    op.add_column("manifests", sa.Column("anchor_by", sa.BigInteger(), nullable=True))
    op.add_column("manifests", sa.Column("receipt_key", sa.String(200), nullable=True))
    op.add_column("manifests", sa.Column("receipt_signature", sa.String(200), nullable=True))


def downgrade() -> None:
    """Drop the columns (SQLite 3.35 or later drops them in place)."""
    for column in reversed(_COLUMNS):
        op.drop_column("manifests", column)
