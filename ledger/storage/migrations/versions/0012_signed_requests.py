"""Self-service webhooks and signed requests (issue 17): who owns a subscription, and
the nonces of signed requests seen within the freshness window.

Subscriptions made before this revision are the operator's (owner null).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``webhooks.owner`` and create ``request_nonces`` (see `ledger.storage.models`)."""
    op.add_column("webhooks", sa.Column("owner", sa.String(220), nullable=True))
    op.create_index("ix_webhooks_owner", "webhooks", ["owner"])
    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.String(200), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_request_nonces_expires_at", "request_nonces", ["expires_at"])


def downgrade() -> None:
    """Drop them: the previous revision never reads them."""
    op.drop_table("request_nonces")
    op.drop_index("ix_webhooks_owner", "webhooks")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("owner")
