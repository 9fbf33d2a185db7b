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


class SealedLeafColumns:
    """The columns of a signed record sealed into batches of the shared sequence (creator
    records, statements, dataset checks): its canonical JSON, its digest (the leaf it is
    anchored as) and, once batched, its place in the batch. `sort_order` keeps these
    around the table's own columns, in the column order the migrations made."""

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True, sort_order=-1)
    body: Mapped[bytes] = mapped_column(LargeBinary, sort_order=1)
    accepted_at: Mapped[int] = mapped_column(BigInteger, sort_order=1)
    batch_number: Mapped[int | None] = mapped_column(
        ForeignKey("batches.number"), nullable=True, index=True, sort_order=1
    )
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True, sort_order=1)


class CreatorRow(Base):
    __tablename__ = "creators"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    registered_at: Mapped[int] = mapped_column(BigInteger)
    # How the id was bound to its holder (key, domain, operator); unverified while
    # `verified_at` is NULL, and then no manifest of it is accepted.
    verification: Mapped[str] = mapped_column(String(20), server_default="operator")
    verified_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    verification_detail: Mapped[str | None] = mapped_column(String(500), nullable=True)


class CreatorKeyRow(Base):
    __tablename__ = "creator_keys"
    __table_args__ = (UniqueConstraint("creator_id", "public_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("creators.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # "signing" keys sign manifests; the one unrevoked "recovery" key only recovers.
    role: Mapped[str] = mapped_column(String(20), server_default="signing")


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
    # The intake receipt as signed when the manifest was accepted (its digest and
    # acceptedAt are the columns above): NULL in rows stored before revision 0014
    # until their first read stores one.
    anchor_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    receipt_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    receipt_signature: Mapped[str | None] = mapped_column(String(200), nullable=True)


class BatchRow(Base):
    __tablename__ = "batches"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    leaf_count: Mapped[int] = mapped_column(Integer)
    sealed_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    tx_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


#: A manifest's record: its columns and its batch's status (None while pending), read
#: with ``BatchRow`` outer-joined on ``batch_number``; the engine path and the plain
#: SQLite fast path (`ledger.storage.sqlite_fast`) both select these.
MANIFEST_COLUMNS = (
    ManifestRow.digest,
    ManifestRow.creator_id,
    ManifestRow.signing_key,
    ManifestRow.accepted_at,
    ManifestRow.batch_number,
    ManifestRow.leaf_index,
    ManifestRow.anchor_by,
    ManifestRow.receipt_key,
    ManifestRow.receipt_signature,
    BatchRow.status,
)


class BatchLevelsRow(Base):
    """A batch's Merkle tree, every level, for serving proofs.

    Its own table: in a `batches` row the multi-megabyte blob would sit in
    front of the anchor columns, and SQLite walks a large value's overflow
    pages to reach any column after it (1.9 ms a status read at 100k leaves).
    """

    __tablename__ = "batch_levels"

    number: Mapped[int] = mapped_column(
        ForeignKey("batches.number"), primary_key=True, autoincrement=False
    )
    levels: Mapped[bytes] = mapped_column(LargeBinary)


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


class LeaseRow(Base):
    """Which replica leads a role (anchoring and settling for one chain account).

    `token` is the fencing token: it grows by one whenever the holder changes, and
    every journal write of the leader checks it in the same transaction, so a
    leader that was paused past `expires_at` can no longer sign anything new.
    `expires_at` is in milliseconds of the database's clock, never a replica's.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    token: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class MetaRow(Base):
    """Small named values kept with the data (the schema version is Alembic's table)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String)


# -- royalties (issue 5) ---------------------------------------------------------------
# Usage batches are rows of `batches` like manifest batches: the registry's batch
# number fence is one sequence, so both kinds share it and the anchorer anchors
# both. `usage_batches` marks which batches hold usage events.


class UsageEventRow(Base):
    """One metered use, stored once by its event id; units are in the split's unit."""

    __tablename__ = "usage_events"
    __table_args__ = (
        # The usage batcher's scan: events not yet in a batch, in arrival order.
        Index(
            "ix_usage_events_pending",
            "seq",
            sqlite_where=text("batch_number IS NULL"),
            postgresql_where=text("batch_number IS NULL"),
        ),
        # The settler's scan: batched events not yet in a settlement.
        Index(
            "ix_usage_events_unsettled",
            "batch_number",
            "buyer",
            "asset_key",
            sqlite_where=text("settlement_id IS NULL AND batch_number IS NOT NULL"),
            postgresql_where=text("settlement_id IS NULL AND batch_number IS NOT NULL"),
        ),
        # Event ids are each source's own: one source cannot pre-claim another's (0003).
        UniqueConstraint("source", "event_id", name="uq_usage_events_source_event_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(64))
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    creator_id: Mapped[str] = mapped_column(String(200), index=True)
    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    asset_id: Mapped[str] = mapped_column(String(200))
    # No index of their own: the settler's partial index covers (batch, buyer, asset key),
    # and every index is paid for by each of thousands of inserts a second.
    asset_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    token: Mapped[str] = mapped_column(String(42))
    units: Mapped[int] = mapped_column(BigInteger)
    event_time: Mapped[int] = mapped_column(BigInteger)
    accepted_at: Mapped[int] = mapped_column(BigInteger)
    batch_number: Mapped[int | None] = mapped_column(ForeignKey("batches.number"), nullable=True)
    leaf_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("usage_settlements.id"), nullable=True, index=True
    )
    # Why the event is never settled (0010): a statement refused it after it was stored.
    refusal: Mapped[str | None] = mapped_column(String(300), nullable=True)


class UsageBatchRow(Base):
    """Marks a batch as one of usage events (its leaves are event digests)."""

    __tablename__ = "usage_batches"

    number: Mapped[int] = mapped_column(
        ForeignKey("batches.number"), primary_key=True, autoincrement=False
    )


class UsageSettlementRow(Base):
    """One `settle` of one buyer and token for (part of) an anchored usage batch.

    ``usage_root`` is the batch root for part 0, else derived from it
    (`ledger.core.royalty.settlement.usage_root_of`); amounts are decimal strings (up to 2^256).
    """

    __tablename__ = "usage_settlements"
    __table_args__ = (UniqueConstraint("batch_number", "buyer", "token", "part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_number: Mapped[int] = mapped_column(ForeignKey("batches.number"), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    token: Mapped[str] = mapped_column(String(42))
    part: Mapped[int] = mapped_column(Integer)
    usage_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    units: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), index=True)
    tx_key: Mapped[str] = mapped_column(String(100))
    tx_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UsageSettlementItemRow(Base):
    """One item of a settlement: units of a split version at its price."""

    __tablename__ = "usage_settlement_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("usage_settlements.id"), index=True)
    asset_key: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    creator_id: Mapped[str] = mapped_column(String(200), index=True)
    asset_id: Mapped[str] = mapped_column(String(200))
    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    units: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[str] = mapped_column(String(40))
    amount: Mapped[str] = mapped_column(String(80))


class UsageHoldRow(Base):
    """Anchored usage of a buyer and asset that could not be charged yet, and why."""

    __tablename__ = "usage_holds"

    batch_number: Mapped[int] = mapped_column(ForeignKey("batches.number"), primary_key=True)
    buyer: Mapped[str] = mapped_column(String(42), primary_key=True)
    asset_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(42))
    creator_id: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    units: Mapped[int] = mapped_column(BigInteger)
    held_at: Mapped[int] = mapped_column(BigInteger)


class SplitSignatureRow(Base):
    """A split owner's EIP-712 signature of split terms, waiting to be relayed."""

    __tablename__ = "split_signatures"

    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    status: Mapped[str] = mapped_column(String(16))
    tx_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    received_at: Mapped[int] = mapped_column(BigInteger)


class UsageProposalRow(Base):
    """A co-signed settlement offered to its buyer: the items and total it signs, until
    ``deadline`` (seconds). Open → signed (signature kept) → used (its settlement made);
    or expired, and a new proposal of the same usage follows."""

    __tablename__ = "usage_proposals"
    __table_args__ = (Index("ix_usage_proposals_root", "buyer", "token", "usage_root"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_number: Mapped[int] = mapped_column(ForeignKey("batches.number"), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    token: Mapped[str] = mapped_column(String(42))
    part: Mapped[int] = mapped_column(Integer)
    usage_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    items: Mapped[str] = mapped_column(Text)
    units: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[str] = mapped_column(String(80))
    deadline: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(65), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("usage_settlements.id"), nullable=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


# -- asset-level records (issue 14) ------------------------------------------------------
# A 1.1 manifest arrives as a signed header (`uploads`) and then its assets in chunks
# (`asset_chunks`, `assets`); the last chunk adds its `manifests` row in the same
# transaction, and only then does anything show it as registered. A 1.0 manifest's
# assets get their `assets` rows in the transaction that stores the manifest.


class UploadRow(Base):
    """A 1.1 manifest's signed header and where its chunked upload stands."""

    __tablename__ = "uploads"

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(200))
    signing_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    asset_count: Mapped[int] = mapped_column(Integer)
    assets_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    chunk_size: Mapped[int] = mapped_column(Integer)
    # The chunk roots in chunk order (level log2(chunk_size) of the assets tree), written
    # when the last chunk arrives: an asset's proof above its chunk is read from them.
    chunk_roots: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AssetChunkRow(Base):
    """One stored chunk of an upload: its root and its leaves (32 bytes an asset)."""

    __tablename__ = "asset_chunks"

    digest: Mapped[bytes] = mapped_column(
        ForeignKey("uploads.digest"), primary_key=True, autoincrement=False
    )
    chunk_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaves: Mapped[bytes] = mapped_column(LargeBinary)


class AssetRow(Base):
    """One asset of a manifest (1.0 or 1.1): its id, content hash and canonical entry.

    No foreign key to `manifests`: a 1.1 upload's rows precede its manifest row, and
    lookups join `manifests`, so they never show an upload in progress.
    """

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("manifest_digest", "asset_id", name="uq_assets_manifest_asset_id"),
    )

    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    asset_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    asset_id: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class AssetHashRow(Base):
    """Where each content hash is registered: the index lookups by file use.

    Apart from `assets`, and filled for a 1.1 manifest only when its last chunk
    completes it, in content-hash order: inserted chunk by chunk, a million random
    keys dirtied a page of this index per asset in every chunk's transaction (a
    third of an upload's time went to writing them, 54 against 20 µs an asset),
    while one sorted insert writes each page once. A 1.0 manifest's rows are
    written with it. Lookups therefore never see an upload in progress.
    """

    __tablename__ = "asset_hashes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    asset_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


# -- creator records and chain proofs (issue 15) ------------------------------------------
# Every accepted creator action is stored in the transaction that applies it, and
# sealed into batches of the shared sequence like usage events, so its time is
# anchored; evidence packages carry the records with their proofs.


class CreatorRecordRow(SealedLeafColumns, Base):
    """One accepted creator action: its canonical JSON, and its record digest
    (`ledger.core.creators.record_digest`), the leaf it is anchored as."""

    __tablename__ = "creator_records"
    __table_args__ = (
        # A creator's history in acceptance order.
        Index("ix_creator_records_creator", "creator_id", "seq"),
        # The batcher's scan: records not yet in a batch, in arrival order.
        Index(
            "ix_creator_records_pending",
            "seq",
            sqlite_where=text("batch_number IS NULL"),
            postgresql_where=text("batch_number IS NULL"),
        ),
    )

    creator_id: Mapped[str] = mapped_column(String(200))
    # The action's name: a creator's history starts at its latest "register" (a
    # rejected id can be registered again by someone else).
    action: Mapped[str] = mapped_column(String(20))


class ChainProofRow(Base):
    """A block header and the EIP-1186 proofs of one anchor root's registry record at
    that block, as fetched and checked once (`ledger.storage.chain_proofs`)."""

    __tablename__ = "chain_proofs"

    block_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    account_proof: Mapped[bytes] = mapped_column(LargeBinary)
    storage_proof: Mapped[bytes] = mapped_column(LargeBinary)


# -- lifecycle statements (issue 17) ------------------------------------------------------
# Every accepted statement about a manifest's assets (`ledger.core.statements`), sealed
# into batches of the shared sequence like creator records, so its time is anchored.


class StatementRow(SealedLeafColumns, Base):
    """One accepted lifecycle statement: its canonical JSON and its digest
    (`ledger.core.statements.Statement.digest`), the leaf it is anchored as."""

    __tablename__ = "statements"
    __table_args__ = (
        # The statements about one manifest's assets, in acceptance order: every status.
        Index("ix_statements_manifest", "manifest_digest", "seq"),
        # The batcher's scan: statements not yet in a batch, in arrival order.
        Index(
            "ix_statements_pending",
            "seq",
            sqlite_where=text("batch_number IS NULL"),
            postgresql_where=text("batch_number IS NULL"),
        ),
    )

    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    type: Mapped[str] = mapped_column(String(20))


class StatementTargetRow(Base):
    """One asset a stored statement names (``asset_id`` "": it names the whole manifest):
    how the statements about given assets are found without reading every statement
    of their manifests (a dataset check)."""

    __tablename__ = "statement_targets"

    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("statements.seq"), primary_key=True)


# -- notifications (issue 17) ---------------------------------------------------------------
# One outbox of events, read in `seq` order by the pull feed and by the webhook worker;
# each subscription keeps its own cursor in it, so delivery state is a row per
# subscriber, not a row per (subscriber, event).


class EventRow(Base):
    """One announced event: its webhook id and the payload exactly as sent.

    The subject columns (creator, buyer, manifest) copy the payload's fields that
    subscriptions and the feed filter on.
    """

    __tablename__ = "events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[int] = mapped_column(BigInteger)
    creator_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    buyer: Mapped[str | None] = mapped_column(String(42), nullable=True)
    manifest_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class WebhookRow(Base):
    """A subscription, and where its delivery stands: every event up to `cursor` was
    delivered, dead-lettered or not for it; the next one has failed `attempts` times."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Space-separated event types, or "*".
    types: Mapped[str] = mapped_column(String(500))
    creator_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    buyer: Mapped[str | None] = mapped_column(String(42), nullable=True)
    manifest_digest: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set when the receiver answered 410 Gone: nothing more is sent.
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    first_failed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Who made it and may manage it: "creator:<id>" or "buyer:<0x address>" (0012);
    # None for the operator's.
    owner: Mapped[str | None] = mapped_column(String(220), nullable=True, index=True)


class RequestNonceRow(Base):
    """A nonce of a signed request seen from a key, kept until its timestamp leaves the
    freshness window, so the same signed request is refused if sent again (0012)."""

    __tablename__ = "request_nonces"

    key_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class WebhookDeadLetterRow(Base):
    """An event a subscriber did not take within the retry period; `redeliver_at` set
    asks the worker to try it once more, `delivered_at` records that it then went."""

    __tablename__ = "webhook_dead_letters"

    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    event_seq: Mapped[int] = mapped_column(ForeignKey("events.seq"), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    dead_at: Mapped[int] = mapped_column(BigInteger)
    redeliver_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DatasetCheckRow(SealedLeafColumns, Base):
    """One dataset check's signed licence snapshot (`ledger.core.licence_snapshot`): its
    canonical JSON and its digest, the leaf it is anchored as. The answers themselves
    stay with the buyer, who was sent them; the snapshot commits to them."""

    __tablename__ = "dataset_checks"
    __table_args__ = (
        # The batcher's scan: snapshots not yet in a batch, in arrival order.
        Index(
            "ix_dataset_checks_pending",
            "seq",
            sqlite_where=text("batch_number IS NULL"),
            postgresql_where=text("batch_number IS NULL"),
        ),
    )


class OlpClientRow(Base):
    """An OLP client (docs/web-licensing.md): a buyer's credentials, bound to the wallet
    that signed its registration. Only the secret's SHA-256 is kept."""

    __tablename__ = "olp_clients"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    wallet: Mapped[str] = mapped_column(String(42), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[int] = mapped_column(BigInteger)


class OlpKeyRow(Base):
    """A licence-server signing key (P-256): current while `retired_at` is NULL; a
    retired key verifies its tokens until `retired_at` plus the token lifetime."""

    __tablename__ = "olp_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OlpTokenRow(Base):
    """Every licence token issued: who for, which asset and licence, until when."""

    __tablename__ = "olp_tokens"

    jti: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    manifest_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    asset_id: Mapped[str] = mapped_column(String(200))
    resource: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(200))
    licence: Mapped[str] = mapped_column(String(128))
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
