"""What the lease holder runs: sealing, anchoring and settling on one fenced sender,
and the chain clients those workers and the usage service share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ledger.app.clock import now_ms
from ledger.app.events import FactAnnouncer
from ledger.app.histories import Histories
from ledger.app.terms import TermsBook
from ledger.app.withdrawals import WithdrawalWatch, Withdrawing
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.contracts.splitter import RoyaltySplitter
from ledger.chain.deploy import Deployment
from ledger.chain.rpc import RevertDecoder, Web3Client
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.signers import TxSigner
from ledger.chain.tx.state import SendPolicy
from ledger.config import Settings
from ledger.metrics import Metrics
from ledger.storage.creator_records import CreatorRecordStore
from ledger.storage.dataset_checks import DatasetCheckStore
from ledger.storage.leases import Fence
from ledger.storage.manifests import ManifestStore
from ledger.storage.statements import StatementStore
from ledger.storage.txdocs import TxDocStore
from ledger.storage.usage import UsageStore
from ledger.workers.anchoring import Anchorer, Batcher
from ledger.workers.settler import Settler
from ledger.workers.tasks import run_forever
from ledger.workers.tx_journal import DatabaseJournal
from ledger.workers.webhooks import Dispatcher


@dataclass
class LeaderDuties:
    """What the lease holder runs: sealing, anchoring and settling, on one fenced sender."""

    settings: Settings
    w3: Web3Client
    account: TxSigner
    deployment: Deployment
    docs: TxDocStore
    manifests: ManifestStore
    usage_store: UsageStore
    splitter: RoyaltySplitter | None
    metrics: Metrics
    terms_book: TermsBook
    creator_records: CreatorRecordStore
    statements: StatementStore
    dataset_checks: DatasetCheckStore
    #: Webhook delivery, and the announcer of anchored manifests and paid settlements:
    #: one replica delivers, so each subscriber gets its events in order.
    notifications: tuple[Dispatcher, FactAnnouncer] | None = None
    #: Assets' lifecycle histories: the settler re-checks usage and prices amendments.
    histories: Histories | None = None

    def start(self, fence: Fence) -> list[asyncio.Task[None]]:
        """Start this term's workers; a new term starts from the journal afresh."""
        settings, deployment = self.settings, self.deployment
        artifact = load_artifact("AnchorRegistry")
        registry = AnchorRegistry(self.w3, deployment.registry.address, artifact)
        abis = [artifact.abi] + ([self.splitter.artifact.abi] if self.splitter else [])
        # One Sender for the account: the anchorer's loop polls it; the settler shares it
        # and follows its own transactions by purpose key (see ledger.workers.settler).
        sender = Sender(
            self.w3,
            self.account,
            DatabaseJournal(self.docs, fence),
            policy=_send_policy(settings),
            decoder=RevertDecoder(abis),
            metrics=_SenderMetrics(self.metrics),
        )
        batcher = Batcher(
            self.manifests, self.metrics,
            max_size=settings.batch_max_size, max_age_s=settings.batch_max_age_s,
        )
        usage_batcher = Batcher(
            self.usage_store, None,
            max_size=settings.usage_batch_max_size, max_age_s=settings.usage_batch_max_age_s,
            kind="usage events",
        )
        record_batcher = Batcher(
            self.creator_records.queue, None,
            max_size=settings.batch_max_size, max_age_s=settings.batch_max_age_s,
            kind="creator records",
        )
        statement_batcher = Batcher(
            self.statements.queue, None,
            max_size=settings.batch_max_size, max_age_s=settings.batch_max_age_s,
            kind="statements",
        )
        snapshot_batcher = Batcher(
            self.dataset_checks.queue, None,
            max_size=settings.batch_max_size, max_age_s=settings.batch_max_age_s,
            kind="licence snapshots",
        )
        anchorer = Anchorer(
            self.manifests, sender, registry, self.metrics,
            key_scope=deployment.key_scope,
        )
        interval = settings.poll_interval_s
        tasks = [
            forever("batcher", lambda: _seal_due(batcher, usage_batcher, record_batcher,
                                                     statement_batcher, snapshot_batcher),
                    lambda: min(interval, 0.2)),
            forever("anchorer", anchorer.step, lambda: anchorer.delay),
        ]
        if self.splitter is not None:
            settler = Settler(
                self.usage_store, self.manifests, self.splitter, sender,
                key_scope=deployment.key_scope,
                max_items=settings.settle_max_items,
                withdrawals=withdrawal_watch(
                    self.w3, deployment, self.splitter,
                    on_request=self.notifications[1].deposit_leaving
                    if self.notifications else None),
                settle_interval_s=settings.settle_interval_s,
                terms_book=self.terms_book,
                histories=self.histories, statements=self.statements,
            )
            tasks.append(forever("settler", settler.step, lambda: settler.delay))
        return tasks + self._notifying(interval)

    def _notifying(self, interval: float) -> list[asyncio.Task[None]]:
        """Webhook delivery and the announcer of final facts, when configured."""
        if self.notifications is None:
            return []
        dispatcher, facts = self.notifications
        return [forever("webhooks", dispatcher.run, lambda: 1.0),
                forever("announcer", facts.step, lambda: min(interval, 0.25))]


def _send_policy(settings: Settings) -> SendPolicy:
    return SendPolicy(
        confirmations=max(settings.confirmations, 1),
        reorg_window=max(64, settings.confirmations),
        stuck_after=settings.stuck_tx_after_s,
        max_fee_cap=int(settings.max_fee_gwei * 10**9),
        poll_interval=settings.poll_interval_s,
    )


async def _seal_due(*batchers: Batcher) -> None:
    # One task seals every kind: batch numbers are one sequence, so two sealers in
    # one process would only race each other for the next number.
    for batcher in batchers:
        while await batcher.step(now_ms()) is not None:
            pass


def royalty_splitter(w3: Web3Client, deployment: Deployment) -> RoyaltySplitter | None:
    """The deployment's splitter client, or None when it has no splitter."""
    if deployment.splitter is None:
        return None
    return RoyaltySplitter(w3, deployment.splitter.address, load_artifact("RoyaltySplitter"))


def withdrawal_watch(w3: Web3Client, deployment: Deployment, splitter: RoyaltySplitter | None,
                     *, on_request: Callable[[Withdrawing], Awaitable[None]] | None = None
                     ) -> WithdrawalWatch | None:
    """What watches buyers' withdrawal requests (telling `on_request` of each), or None
    without a splitter."""
    if splitter is None or deployment.splitter is None:
        return None
    return WithdrawalWatch(w3, splitter, deployment.splitter.block_number,
                           on_request=on_request)


def forever(
    name: str, step: Callable[[], Awaitable[object]], delay: Callable[[], float]
) -> asyncio.Task[None]:
    """A task calling `step` every `delay()` seconds, logging failures (`run_forever`)."""
    return asyncio.create_task(run_forever(name, step, delay), name=name)


class _SenderMetrics:
    """Feeds the sender's counters into the service metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, name: str, value: float = 1) -> None:
        counter = {
            "rpc_errors": self._metrics.rpc_errors,
            "fees_wei": self._metrics.tx_fees,
            "replacements": self._metrics.tx_replacements,
        }.get(name)
        if counter is not None:
            counter.inc(value)
