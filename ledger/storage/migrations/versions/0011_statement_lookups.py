"""Statement lookups (issue 17): the assets each stored statement names,
``statement_targets``, filled from the statements stored before this revision.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_PAGE = 10_000


def upgrade() -> None:
    """Create ``statement_targets`` (see `ledger.storage.models.StatementTargetRow`) and
    fill it from the stored statements' targets."""
    targets = op.create_table(
        "statement_targets",
        sa.Column("manifest_digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("asset_id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.Integer(), sa.ForeignKey("statements.seq"), primary_key=True),
    )
    conn = op.get_bind()
    last = 0
    while rows := conn.execute(
            sa.text("SELECT seq, manifest_digest, body FROM statements WHERE seq > :last "
                    "ORDER BY seq LIMIT :page"), {"last": last, "page": _PAGE}).all():
        op.bulk_insert(targets, [
            {"manifest_digest": row.manifest_digest, "asset_id": asset_id, "seq": row.seq}
            for row in rows
            for asset_id in json.loads(row.body)["target"].get("assetIds", [""])])
        last = rows[-1].seq


def downgrade() -> None:
    """Drop ``statement_targets``."""
    op.drop_table("statement_targets")
