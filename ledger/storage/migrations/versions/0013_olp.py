"""The OLP licence server: clients, signing keys and issued tokens (issue 19).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``olp_clients``, ``olp_keys`` and ``olp_tokens`` (see `ledger.storage.models`)."""
    op.create_table(
        "olp_clients",
        sa.Column("client_id", sa.String(40), primary_key=True),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("wallet", sa.String(42), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_olp_clients_wallet", "olp_clients", ["wallet"])
    op.create_table(
        "olp_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "olp_tokens",
        sa.Column("jti", sa.String(40), primary_key=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("resource", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("licence", sa.String(128), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_olp_tokens_client_id", "olp_tokens", ["client_id"])
    op.create_index("ix_olp_tokens_buyer", "olp_tokens", ["buyer"])


def downgrade() -> None:
    """Drop the OLP tables."""
    op.drop_table("olp_tokens")
    op.drop_table("olp_keys")
    op.drop_table("olp_clients")
