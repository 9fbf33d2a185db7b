"""Database schema. Rows stay inside `ledger.storage`: repositories return core types.

Times are integer milliseconds since the Unix epoch (UTC); digests, roots and
hashes are raw bytes. A manifest's status is derived from its batch, never
stored twice: no batch → pending, else the batch's status.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every ledger table."""


class CreatorRow(Base):
    __tablename__ = "creators"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    registered_at: Mapped[int] = mapped_column(BigInteger)


class CreatorKeyRow(Base):
    __tablename__ = "creator_keys"
    __table_args__ = (UniqueConstraint("creator_id", "public_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ManifestRow(Base):
    __tablename__ = "manifests"
    __table_args__ = (
        # The batcher's scan: pending manifests in arrival order.
        Index(
            "ix_manifests_pending",
            "seq",
            sqlite_where=text("batch_number IS NULL"),
            postgresql_where=text("batch_number IS NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    creator_id: Mapped[str] = mapped_column(String(200), index=True)
    signing_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    accepted_at: Mapped[int] = mapped_column(BigInteger)
    batch_number: Mapped[int | None] = mapped_column(
        ForeignKey("batches.number"), nullable=True, index=True
    )
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True)


class BatchRow(Base):
    __tablename__ = "batches"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    leaf_count: Mapped[int] = mapped_column(Integer)
    levels: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    tx_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ChainTxRow(Base):
    """One transaction purpose with every signed attempt, written before any broadcast.

    The document is the chain layer's own JSON form; the columns beside it are
    what the sender queries by.
    """

    __tablename__ = "chain_txs"
    __table_args__ = (Index("ix_chain_txs_sender_nonce", "sender", "nonce"),)

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    document: Mapped[str] = mapped_column(Text)


class MetaRow(Base):
    """Small named values: the schema version, the deployment record."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String)
