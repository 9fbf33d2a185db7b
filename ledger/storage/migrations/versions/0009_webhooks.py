"""Webhook subscriptions, the event outbox and deliveries (issue 17).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``events``, ``webhooks`` and ``webhook_dead_letters`` (see
    `ledger.storage.models`)."""
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.String(200), nullable=True),
        sa.Column("buyer", sa.String(42), nullable=True),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("types", sa.String(500), nullable=False),
        sa.Column("creator_id", sa.String(200), nullable=True),
        sa.Column("buyer", sa.String(42), nullable=True),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=True),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.BigInteger(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_failed_at", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(300), nullable=True),
    )
    op.create_table(
        "webhook_dead_letters",
        sa.Column("webhook_id", sa.String(40),
                  sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("event_seq", sa.Integer(), sa.ForeignKey("events.seq"), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("dead_at", sa.BigInteger(), nullable=False),
        sa.Column("redeliver_at", sa.BigInteger(), nullable=True),
        sa.Column("delivered_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_webhook_dead_letters_redeliver_at", "webhook_dead_letters",
                    ["redeliver_at"])


def downgrade() -> None:
    """Drop them: the previous revision never reads them."""
    op.drop_table("webhook_dead_letters")
    op.drop_table("webhooks")
    op.drop_table("events")
