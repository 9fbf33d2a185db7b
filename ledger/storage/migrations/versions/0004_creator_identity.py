"""Creator identities: how each id was verified, and recovery keys.

Creators registered before this revision were never verified: they become
operator-verified ids awaiting approval (`ledger creator approve`), so a squatted id
stops being accepted until an operator vouches for it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_UNVERIFIED = "registered before creator verification: awaiting operator approval"


def upgrade() -> None:
    """Add ``creators.verification``, ``verified_at``, ``verification_detail`` and
    ``creator_keys.role`` (see `ledger.storage.models.CreatorRow`)."""
    # Added in place, never by rebuilding the tables: SQLite cannot drop `creators`
    # for a rebuild while `creator_keys` rows refer to it with foreign keys on.
    op.add_column(
        "creators",
        sa.Column("verification", sa.String(20), server_default="operator", nullable=False),
    )
    op.add_column("creators", sa.Column("verified_at", sa.BigInteger(), nullable=True))
    op.add_column("creators", sa.Column("verification_detail", sa.String(500), nullable=True))
    op.add_column(
        "creator_keys", sa.Column("role", sa.String(20), server_default="signing", nullable=False)
    )
    op.execute(
        sa.text("UPDATE creators SET verification_detail = :detail").bindparams(
            detail=_UNVERIFIED
        )
    )


def downgrade() -> None:
    """Drop the columns (SQLite 3.35 or later drops them in place); recovery keys go
    too, or the previous revision would take them for signing keys."""
    op.execute(sa.text("DELETE FROM creator_keys WHERE role = 'recovery'"))
    op.drop_column("creator_keys", "role")
    for column in ("verification_detail", "verified_at", "verification"):
        op.drop_column("creators", column)
