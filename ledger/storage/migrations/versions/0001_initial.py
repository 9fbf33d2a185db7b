"""The schema as first released: every table but ``leases``.

Constraints keep the names the database gives them, as ``create_all`` made them
before migrations existed, so a database made that way and one made by this
revision are the same and the older one can be adopted (`ledger.storage.schema`).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_NULL_BATCH = sa.text("batch_number IS NULL")
_UNSETTLED = sa.text("settlement_id IS NULL AND batch_number IS NOT NULL")


def upgrade() -> None:
    """Create the first released tables and their indexes."""
    _creators()
    _batches()
    _manifests()
    _chain_txs()
    _royalties()
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
    )


def downgrade() -> None:
    """Drop every table this revision made, dependents first."""
    for table in (
        "meta",
        "usage_proposals",
        "split_signatures",
        "usage_holds",
        "usage_settlement_items",
        "usage_batches",
        "usage_events",
        "usage_settlements",
        "chain_txs",
        "manifests",
        "batch_levels",
        "batches",
        "creator_keys",
        "creators",
    ):
        op.drop_table(table)


def _creators() -> None:
    op.create_table(
        "creators",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "creator_keys",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("creator_id", sa.String(200), sa.ForeignKey("creators.id"), nullable=False),
        sa.Column("public_key", sa.String(200), nullable=False),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("creator_id", "public_key"),
    )
    _index("creator_keys", "creator_id")


def _batches() -> None:
    op.create_table(
        "batches",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("leaf_count", sa.Integer(), nullable=False),
        sa.Column("sealed_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=True),
    )
    _index("batches", "status")
    op.create_table(
        "batch_levels",
        sa.Column(
            "number",
            sa.Integer(),
            sa.ForeignKey("batches.number"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("levels", sa.LargeBinary(), nullable=False),
    )


def _manifests() -> None:
    op.create_table(
        "manifests",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("signing_key", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
    )
    _index("manifests", "creator_id")
    _index("manifests", "batch_number")
    op.create_index(
        "ix_manifests_pending",
        "manifests",
        ["seq"],
        sqlite_where=_NULL_BATCH,
        postgresql_where=_NULL_BATCH,
    )


def _chain_txs() -> None:
    op.create_table(
        "chain_txs",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
    )
    _index("chain_txs", "status")
    op.create_index("ix_chain_txs_sender_nonce", "chain_txs", ["sender", "nonce"])


def _royalties() -> None:
    _usage_settlements()
    _usage_events()
    op.create_table(
        "usage_batches",
        sa.Column(
            "number",
            sa.Integer(),
            sa.ForeignKey("batches.number"),
            primary_key=True,
            autoincrement=False,
        ),
    )
    _usage_settlement_items()
    _usage_holds()
    _split_signatures()
    _usage_proposals()


def _usage_settlements() -> None:
    op.create_table(
        "usage_settlements",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("usage_root", sa.LargeBinary(32), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_key", sa.String(100), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("batch_number", "buyer", "token", "part"),
    )
    for column in ("batch_number", "buyer", "status"):
        _index("usage_settlements", column)


def _usage_events() -> None:
    op.create_table(
        "usage_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(128), nullable=False, unique=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("asset_key", sa.LargeBinary(32), nullable=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
        sa.Column(
            "settlement_id", sa.Integer(), sa.ForeignKey("usage_settlements.id"), nullable=True
        ),
    )
    for column in ("buyer", "creator_id", "settlement_id"):
        _index("usage_events", column)
    op.create_index(
        "ix_usage_events_pending",
        "usage_events",
        ["seq"],
        sqlite_where=_NULL_BATCH,
        postgresql_where=_NULL_BATCH,
    )
    op.create_index(
        "ix_usage_events_unsettled",
        "usage_events",
        ["batch_number", "buyer", "asset_key"],
        sqlite_where=_UNSETTLED,
        postgresql_where=_UNSETTLED,
    )


def _usage_settlement_items() -> None:
    op.create_table(
        "usage_settlement_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "settlement_id", sa.Integer(), sa.ForeignKey("usage_settlements.id"), nullable=False
        ),
        sa.Column("asset_key", sa.LargeBinary(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.String(40), nullable=False),
        sa.Column("amount", sa.String(80), nullable=False),
    )
    for column in ("settlement_id", "asset_key", "creator_id"):
        _index("usage_settlement_items", column)


def _usage_holds() -> None:
    op.create_table(
        "usage_holds",
        sa.Column(
            "batch_number", sa.Integer(), sa.ForeignKey("batches.number"), primary_key=True
        ),
        sa.Column("buyer", sa.String(42), primary_key=True),
        sa.Column("asset_key", sa.LargeBinary(32), primary_key=True),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("held_at", sa.BigInteger(), nullable=False),
    )
    _index("usage_holds", "creator_id")


def _split_signatures() -> None:
    op.create_table(
        "split_signatures",
        sa.Column("manifest_digest", sa.LargeBinary(32), primary_key=True),
        sa.Column("asset_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tx_key", sa.String(100), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
    )


def _usage_proposals() -> None:
    op.create_table(
        "usage_proposals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=False),
        sa.Column("buyer", sa.String(42), nullable=False),
        sa.Column("token", sa.String(42), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("usage_root", sa.LargeBinary(32), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.String(80), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "settlement_id", sa.Integer(), sa.ForeignKey("usage_settlements.id"), nullable=True
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    for column in ("batch_number", "buyer", "status"):
        _index("usage_proposals", column)
    op.create_index("ix_usage_proposals_root", "usage_proposals", ["buyer", "token", "usage_root"])


def _index(table: str, column: str) -> None:
    # The name `index=True` gives a mapped column, so models and migrations agree.
    op.create_index(f"ix_{table}_{column}", table, [column])
