"""Starting and stopping the whole service: database, chain, contracts, workers, HTTP.

The embedded default (no `rpc_url`) starts its own anvil with its chain kept in
the data directory (`anvil --state`, dumped on exit and every second), deploys
the contracts once and records them in `deployment.json`. If that chain is ever
lost, the contracts are deployed afresh and every batch is anchored again from
the database, which is the source of truth; proofs then point at the new chain.
Its anvil mines a block per transaction and none otherwise, so a `DepthMiner`
adds the empty blocks the last anchors need to reach their confirmations.
Without configured usage keys it makes one metering key (`default_usage_keys`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from eth_account import Account
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.accounts import RoyaltyAccounts
from ledger.app.events import Announcer, FactAnnouncer
from ledger.app.intake import IntakeWriter, Verifier, intake_writer
from ledger.app.licence_server import LicenceServer, WebLicensing
from ledger.app.olp_funds import SplitterFunds
from ledger.app.olp_keys import OlpKeys
from ledger.app.provenance import ChainInfo, ServiceContext, ServiceParts
from ledger.app.royalty import UsageService, UsageWriter, usage_writer
from ledger.app.rsl import RslPublisher
from ledger.app.status_book import StatusBook
from ledger.app.terms import TermsBook
from ledger.app.webhooks import Webhooks
from ledger.chain.anvil import DEV_KEYS, AnvilProcess, DepthMiner
from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.rpc import Web3Client, connect
from ledger.chain.state_proofs import StateProofs
from ledger.chain.tx.signers import TxSigner, load_signer
from ledger.config import Settings
from ledger.core.receipt import ReceiptSigner
from ledger.core.royalty.auth import KeyRing
from ledger.core.signing import SigningKey
from ledger.errors import ChainError, ConfigError
from ledger.keyfile import generate_key, load_key, write_key
from ledger.metrics import Metrics
from ledger.run.duties import LeaderDuties, forever, royalty_splitter, withdrawal_watch
from ledger.storage.assets import AssetStore
from ledger.storage.chain_proofs import ChainProofStore
from ledger.storage.creator_records import CreatorRecordStore
from ledger.storage.creators import CreatorStore
from ledger.storage.dataset_checks import DatasetCheckStore
from ledger.storage.engine import open_engine
from ledger.storage.event_sources import EventSources
from ledger.storage.events import EventStore
from ledger.storage.leases import LeaseStore
from ledger.storage.licence_server import LicenceServerStore
from ledger.storage.manifests import ManifestStore
from ledger.storage.published import PublishedAssets
from ledger.storage.request_nonces import RequestNonces
from ledger.storage.schema import check as check_schema
from ledger.storage.schema import prepare
from ledger.storage.statements import StatementStore
from ledger.storage.txdocs import TxDocStore
from ledger.storage.uploads import UploadStore
from ledger.storage.usage import UsageStore
from ledger.workers.leader import Leadership, default_replica_id
from ledger.workers.tasks import stop_tasks
from ledger.workers.webhooks import Dispatcher

log = logging.getLogger(__name__)

#: Where the embedded default keeps its metering key, and the source it belongs to.
USAGE_KEYS_FILE = "usage-keys.json"
DEFAULT_USAGE_SOURCE = "local"


@dataclass
class Service:
    """A running service: its context and everything that must be closed."""

    settings: Settings
    ctx: ServiceContext
    engine: AsyncEngine
    w3: Web3Client
    deployment: Deployment
    anvil: AnvilProcess | None
    writer: IntakeWriter
    tasks: list[asyncio.Task[None]]

    @property
    def rpc_url(self) -> str:
        """The chain node this service talks to."""
        return str(self.w3.provider.endpoint_uri)

    async def close(self) -> None:
        """Stop workers, flush intake, close the database, and stop an embedded anvil."""
        await stop_tasks(self.tasks)
        await self.writer.stop()
        if self.ctx.verifier is not None:
            await self.ctx.verifier.close()
        await self.ctx.usage.close()
        await self.ctx.licensing.server.close()
        self.ctx.manifests.close()
        await self.engine.dispose()
        with contextlib.suppress(Exception):
            await self.w3.provider.disconnect()
        if self.anvil is not None:
            await self.anvil.stop()


@dataclass
class _Opened:
    """The database and chain a service (or a supervisor of several) runs on."""

    engine: AsyncEngine
    w3: Web3Client
    anvil: AnvilProcess | None
    account: TxSigner
    deployment: Deployment
    docs: TxDocStore
    manifests: ManifestStore


async def start_service(settings: Settings, *, replica: str | None = None) -> Service:
    """Open everything `settings` names, start the workers, and return the service.

    `replica` names this process among several serving one port (`serve_processes`):
    its metrics are then labelled with it and shared with the others.
    """
    settings = default_usage_keys(settings)
    opened = await _open(settings)
    return await _assemble(settings, opened, replica)


def default_usage_keys(settings: Settings) -> Settings:
    """On the embedded default with no metering keys configured, `settings` with a keys
    file in the data dir (made once, 0600) holding one key of source `local`, so usage
    can be sent (`ledger usage send`) without setting anything up; else `settings`."""
    if not settings.embedded_chain or settings.usage_keys or settings.usage_keys_file:
        return settings
    path = settings.data_dir / USAGE_KEYS_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = {"version": KeyRing.VERSION,
                "sources": {DEFAULT_USAGE_SOURCE: [{"id": "local-1",
                                                    "secret": secrets.token_hex(32)}]}}
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(keys, indent=2) + "\n")
    log.info("usage: metering source %r signs with the key in %s (`ledger usage send` "
             "uses it)", DEFAULT_USAGE_SOURCE, path)
    return replace(settings, usage_keys_file=path)


async def _open(settings: Settings) -> _Opened:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = open_engine(settings.database_url())
    anvil = None
    try:
        await prepare(engine, auto_upgrade=engine.dialect.name == "sqlite")
        if settings.embedded_chain:
            anvil = AnvilProcess(
                state=data_dir / "anvil-state.json",
                state_interval=1,
                block_time=settings.anvil_block_time_s,
            )
            await anvil.start()
            rpc_url, account = anvil.rpc_url, Account.from_key(DEV_KEYS[0])
        else:
            rpc_url, account = str(settings.rpc_url), _anchorer(settings)
        w3 = connect(rpc_url, timeout=settings.rpc_timeout_s)
        docs = TxDocStore(engine)
        manifests = ManifestStore(engine)
        deployment = await _deployment(settings, w3, account.address, docs, manifests)
    except BaseException:
        if anvil is not None:
            await anvil.stop()
        await engine.dispose()
        raise
    return _Opened(engine, w3, anvil, account, deployment, docs, manifests)


@contextlib.asynccontextmanager
async def prepared_for_replicas(settings: Settings) -> AsyncIterator[Settings]:
    """Migrate the database, start the embedded chain and deploy to it, once, for
    several serving processes; yields the settings each of them runs with (the same
    chain node, deployment and receipt key for all), and stops the chain on exit."""
    settings = default_usage_keys(settings)
    opened = await _open(settings)
    try:
        opened.manifests.close()
        await opened.engine.dispose()
        with contextlib.suppress(Exception):
            await opened.w3.provider.disconnect()
        _service_key(settings.data_dir / "service-key.pem")
        deployment_file = settings.deployment_file or settings.data_dir / "deployment.json"
        shared = replace(settings, deployment_file=deployment_file)
        if opened.anvil is not None:
            shared = replace(shared, rpc_url=opened.anvil.rpc_url, anchorer_key=DEV_KEYS[0])
        # The replicas see an external chain; the embedded one is mined for depth here.
        miner = _depth_miner(settings, opened.anvil)
        tasks = [asyncio.create_task(miner.run(settings.poll_interval_s), name="depth-miner")
                 ] if miner is not None else []
        try:
            yield shared
        finally:
            await stop_tasks(tasks)
    finally:
        if opened.anvil is not None:
            await opened.anvil.stop()


@contextlib.asynccontextmanager
async def reading_context(settings: Settings, rpc_url: str
                          ) -> AsyncIterator[tuple[ServiceContext, AsyncEngine]]:
    """A service context over the database, deployment and receipt key `settings` name and
    the node at `rpc_url`, with no worker, writer or chain of its own, and its database:
    what `ledger export` reads, while the service runs or not."""
    settings = replace(settings, intake_workers=0)
    engine = open_engine(settings.database_url())
    w3 = connect(rpc_url, timeout=settings.rpc_timeout_s)
    manifests = ManifestStore(engine)
    try:
        await check_schema(engine)
        deployment = Deployment.read(settings.deployment_file
                                     or settings.data_dir / "deployment.json")
        await deployment.check(w3)
        # A throwaway account: nothing here signs or sends.
        opened = _Opened(engine, w3, None, Account.create(), deployment, TxDocStore(engine),
                         manifests)
        usage_store = UsageStore(engine)
        parts = _parts(settings, opened, None, usage_store, usage_writer(usage_store))
        yield ServiceContext(settings.anchoring, Metrics(), parts,
                             _chain_info(settings, opened), {}), engine
    finally:
        manifests.close()
        await engine.dispose()
        with contextlib.suppress(Exception):
            await w3.provider.disconnect()


async def _assemble(settings: Settings, opened: _Opened, replica: str | None) -> Service:
    """Build every part, then the context over them, then start them and the workers."""
    metrics = Metrics(replica)
    usage_store = UsageStore(opened.engine)
    events_writer = usage_writer(usage_store)
    parts = _parts(settings, opened, replica, usage_store, events_writer)
    ctx = ServiceContext(settings.anchoring, metrics, parts, _chain_info(settings, opened),
                         _health_checks(settings, opened),
                         creator_domain_url=settings.creator_domain_url)
    metrics.gauge("ledger_queue_depth", "Manifests waiting for a batch.", lambda: ctx.queue_depth)
    if parts.verifier is not None:
        parts.verifier.start()
    parts.writer.start()
    events_writer.start()
    parts.licensing.server.start()
    duties = LeaderDuties(settings, opened.w3, opened.account, opened.deployment, opened.docs,
                          opened.manifests, usage_store, parts.accounts.splitter, metrics,
                          parts.usage.terms_book, parts.creator_records, parts.statements,
                          parts.dataset_checks,
                          _notifications(settings, opened, parts, metrics),
                          histories=parts.status_book)
    return Service(settings, ctx, opened.engine, opened.w3, opened.deployment, opened.anvil,
                   parts.writer, _tasks(settings, opened, replica, ctx, duties))


def _parts(settings: Settings, opened: _Opened, replica: str | None, usage_store: UsageStore,
           events_writer: UsageWriter) -> ServiceParts:
    """The stores, writers, signers and services a context works with, none started."""
    deployment, manifests = opened.deployment, opened.manifests
    service_key = settings.data_dir / "service-key.pem"
    splitter = royalty_splitter(opened.w3, deployment)
    assets = AssetStore(opened.engine)
    terms_book = TermsBook(manifests, assets=assets)
    statements = StatementStore(opened.engine)
    status_book = StatusBook(statements, assets)
    event_store = EventStore(opened.engine)
    events = Announcer(event_store)
    usage = UsageService(
        settings.royalty, usage_store, manifests, events_writer, chain_id=deployment.chain_id,
        registry=deployment.registry.address, terms_book=terms_book,
        withdrawals=withdrawal_watch(opened.w3, deployment, splitter), histories=status_book,
        events=events,
    )
    accounts = RoyaltyAccounts(usage_store, terms_book, chain_id=deployment.chain_id,
                               splitter=splitter)
    return ServiceParts(
        manifests=manifests,
        creators=CreatorStore(opened.engine),
        writer=intake_writer(manifests),
        receipts=ReceiptSigner(_service_key(service_key)),
        usage=usage,
        accounts=accounts,
        verifier=_verifier(settings, replica, service_key),
        uploads=UploadStore(opened.engine),
        assets=assets,
        creator_records=CreatorRecordStore(opened.engine),
        state_proofs=StateProofs(opened.w3, deployment.registry.address),
        chain_proofs=ChainProofStore(opened.engine),
        statements=statements,
        status_book=status_book,
        dataset_checks=DatasetCheckStore(opened.engine),
        events=events,
        webhooks=Webhooks(event_store, urls=settings.webhooks.urls),
        request_nonces=RequestNonces(opened.engine),
        licensing=_licensing(settings, opened, status_book, terms_book,
                             SplitterFunds(splitter, usage_store) if splitter else None),
    )


def _licensing(settings: Settings, opened: _Opened, histories: StatusBook,
               terms_book: TermsBook, funds: SplitterFunds | None) -> WebLicensing:
    """The RSL publisher and the OLP licence server (docs/web-licensing.md)."""
    olp = settings.olp
    published = PublishedAssets(opened.engine)
    publisher = RslPublisher(published, histories, base_url=olp.public_url,
                             chain_id=opened.deployment.chain_id, asset_url=olp.asset_url,
                             versions=published)
    store = LicenceServerStore(opened.engine)
    keys = OlpKeys(store, lifetime_ms=olp.token_lifetime_s * 1000,
                   rotation_ms=olp.key_rotation_s * 1000)
    server = LicenceServer(store, keys, publisher, histories, terms_book, funds,
                           lifetime_s=olp.token_lifetime_s,
                           max_clients_per_wallet=olp.max_clients_per_wallet,
                           register_per_minute=olp.register_per_minute)
    return WebLicensing(publisher, server)


def _notifications(settings: Settings, opened: _Opened, parts: ServiceParts,
                   metrics: Metrics) -> tuple[Dispatcher, FactAnnouncer]:
    """The webhook worker, woken by this process's announcements, and the announcer of
    facts final in the database: the leader's (`LeaderDuties`)."""
    store = EventStore(opened.engine)
    dispatcher = Dispatcher(store, settings.webhooks, metrics=metrics)
    parts.events.listen(dispatcher.wake)
    facts = FactAnnouncer(store, EventSources(opened.engine),
                          chain_id=opened.deployment.chain_id)
    return dispatcher, facts


def _chain_info(settings: Settings, opened: _Opened) -> ChainInfo:
    deployment = opened.deployment
    return ChainInfo(
        deployment.chain_id,
        deployment.registry.address,
        deployment.splitter.address if deployment.splitter else None,
        settings.public_rpc_url or (opened.anvil.rpc_url if opened.anvil else None),
    )


def _health_checks(settings: Settings, opened: _Opened
                   ) -> dict[str, Callable[[], Awaitable[None]]]:
    engine, w3 = opened.engine, opened.w3
    return {
        "database": lambda: _ping_db(engine),
        "chain": lambda: _ping_chain(w3, min(2.0, settings.rpc_timeout_s)),
    }


def _tasks(settings: Settings, opened: _Opened, replica: str | None, ctx: ServiceContext,
           duties: LeaderDuties) -> list[asyncio.Task[None]]:
    """The lease loop (whose holder runs `duties`), the gauges' refreshers, and the
    embedded chain's depth miner."""
    leadership = Leadership(
        LeaseStore(opened.engine),
        f"sender:{opened.deployment.chain_id}:{opened.account.address}",
        _replica_id(settings, replica),
        duties.start,
        ttl_s=settings.lease_ttl_s,
    )
    ctx.metrics.gauge(
        "ledger_leader", "1 while this replica holds the lease to seal, anchor and settle.",
        lambda: float(leadership.leading),
    )
    tasks = [
        asyncio.create_task(leadership.run(), name="leadership"),
        forever("queue-depth", ctx.refresh_queue_depth, lambda: 1.0),
        # Keeps the ledger_*_up gauges current without /healthz traffic.
        forever("health-probe", ctx.health, lambda: 5.0),
    ]
    if replica is not None:
        tasks.append(forever("metrics-refresh", _refresh(ctx.metrics), lambda: 1.0))
    miner = _depth_miner(settings, opened.anvil)
    if miner is not None:
        tasks.append(asyncio.create_task(miner.run(settings.poll_interval_s), name="depth-miner"))
    return tasks


def _depth_miner(settings: Settings, anvil: AnvilProcess | None) -> DepthMiner | None:
    """The embedded chain's miner of confirmation blocks, when anchors need more than one
    (not with ``anvil_block_time_s``, which mines on its own)."""
    if anvil is None or settings.confirmations < 2 or settings.anvil_block_time_s:
        return None
    return DepthMiner(anvil.rpc_url, settings.confirmations)


def _verifier(settings: Settings, replica: str | None, receipt_key: Path) -> Verifier | None:
    """The intake's worker processes, or None to check manifests in this process."""
    workers = settings.intake_workers
    if replica is None:
        return None if workers == 0 else Verifier(workers, receipt_key=receipt_key)
    # One of several serving processes: checks in this process unless workers are
    # asked for, and then only batches go to them (docs/operations.md, section 3a).
    if not workers:
        return None
    return Verifier(workers, receipt_key=receipt_key, inline_below=2)


def _replica_id(settings: Settings, replica: str | None) -> str:
    base = settings.replica_id or default_replica_id()
    return base if replica is None else f"{base}-{replica}"


def _refresh(metrics: Metrics) -> Callable[[], Awaitable[None]]:
    async def refresh() -> None:
        metrics.refresh()

    return refresh


async def _deployment(
    settings: Settings,
    w3: Web3Client,
    address: str,
    docs: TxDocStore,
    manifests: ManifestStore,
) -> Deployment:
    path = settings.deployment_file or settings.data_dir / "deployment.json"
    if Path(path).exists():
        deployment = Deployment.read(path)
        try:
            await deployment.check(w3)
            return deployment
        except ChainError as exc:
            if not settings.embedded_chain:
                raise
            log.warning(
                "the embedded chain lost the deployment (%s): deploying again and "
                "re-anchoring every batch from the database",
                exc,
            )
            await docs.forget_sender(address)
            await manifests.reset_anchors()
    elif not settings.embedded_chain:
        raise ConfigError(
            f"no deployment record at {path}: run `ledger deploy` first", field="deployment_file"
        )
    # Only the embedded chain gets here: its first dev account deploys and anchors.
    deployment = await deploy_contracts(
        w3, DEV_KEYS[0], anchorers=[address], meters=[address]
    )
    deployment.write(path)
    return deployment


def _service_key(path: Path) -> SigningKey:
    """The key receipts are signed with, made on first start and kept (0600)."""
    if not path.exists():
        write_key(path, generate_key("p256"))
    return load_key(path)


def _anchorer(settings: Settings) -> TxSigner:
    """The account that anchors and settles: a KMS-style signer, or a key."""
    if settings.anchorer_signer:
        return load_signer(settings.anchorer_signer)
    key = settings.read_anchorer_key()
    if not key:
        raise ConfigError("no anchorer key given", field="anchorer_key")
    account: TxSigner = Account.from_key(key)
    return account


async def _ping_db(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _ping_chain(w3: Web3Client, timeout: float) -> None:
    # asyncio.timeout, not wait_for: on 3.11 wait_for can lose a cancellation.
    async with asyncio.timeout(timeout):
        await w3.eth.block_number


def configure_logging(level: str) -> None:
    """Plain one-line logs on stderr; secrets never reach them."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
