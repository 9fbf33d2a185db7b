"""Asset-level records: 1.1 uploads, their chunks, and every manifest's assets.

1.0 manifests stored before this revision get no asset rows here (a migration that
parsed every stored manifest could run for hours); lookups by hash cover the
manifests accepted from this revision on.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``uploads``, ``asset_chunks``, ``assets`` and ``asset_hashes`` (see
    `ledger.storage.models`)."""
    op.create_table(
        "uploads",
        sa.Column("digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("signing_key", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("asset_count", sa.Integer(), nullable=False),
        sa.Column("assets_root", sa.LargeBinary(32), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunk_roots", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "asset_chunks",
        sa.Column("digest", sa.LargeBinary(32), sa.ForeignKey("uploads.digest"),
                  primary_key=True),
        sa.Column("chunk_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("leaves", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "assets",
        sa.Column("manifest_digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("asset_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("manifest_digest", "asset_id", name="uq_assets_manifest_asset_id"),
    )
    op.create_table(
        "asset_hashes",
        sa.Column("content_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("manifest_digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("asset_index", sa.Integer(), primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop the four tables: the previous revision never reads them (1.1 manifests
    already accepted stay in ``manifests``, but their assets cannot be proved)."""
    op.drop_table("asset_hashes")
    op.drop_table("assets")
    op.drop_table("asset_chunks")
    op.drop_table("uploads")
