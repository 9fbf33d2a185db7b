"""The service's Prometheus metrics, kept by `prometheus_client`.

One serving process: each `Metrics` has a registry of its own. Several serving
processes on one port (`serve_processes`): the supervisor calls
`share_between_processes` before it starts them, and each then keeps its values in
memory-mapped files in that folder (prometheus_client's multiprocess mode), labels
its series ``replica="<n>"``, and answers a scrape with every process's series.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)

#: prometheus_client picks its multiprocess mode from this variable when imported.
FOLDER_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
ANCHOR_LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)

_M = TypeVar("_M", Counter, Gauge, Histogram)

# No `*_created` series: the document keeps the series it always had, and a counter's
# start is not something the alerts (docs/operations.md) use.
disable_created_metrics()  # type: ignore[no-untyped-call]


def share_between_processes(folder: Path) -> None:
    """Have the serving processes started from now on share their metrics in `folder`.

    Emptied first: values a previous run left would otherwise be added in.
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[FOLDER_VARIABLE] = str(folder)


def process_exited(pid: int) -> None:
    """Drop the gauges of serving process `pid`, which has ended; its counts stay in
    the counters' sums, so they never go down."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Metrics:
    """Every metric the service exports.

    `replica` names this process among several serving one port: its series are then
    labelled with it and kept where the others read them (`share_between_processes`
    must have run before this process started).
    """

    def __init__(self, replica: str | None = None) -> None:
        self._replica = replica
        self._registry = CollectorRegistry()
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        if replica is not None:
            if values.ValueClass is values.MutexValue:  # chosen when first imported
                raise RuntimeError(f"{FOLDER_VARIABLE} was not set when this process started")
            multiprocess.MultiProcessCollector(self._registry)  # type: ignore[no-untyped-call]
        self.accepted = self._counter("ledger_manifests_accepted_total",
                                      "Manifests newly accepted.")
        self.duplicates = self._counter("ledger_manifests_duplicate_total",
                                        "Manifests submitted again.")
        self.rejected = self._counter("ledger_requests_rejected_total",
                                      "Requests answered with a 4xx.")
        self.batched = self._counter("ledger_manifests_batched_total",
                                     "Manifests sealed into batches.")
        self.batches = self._counter("ledger_batches_sealed_total", "Batches sealed.")
        self.anchored = self._counter("ledger_batches_anchored_total",
                                      "Batches anchored and confirmed.")
        self.reorgs = self._counter("ledger_anchor_reorgs_total", "Anchors dropped by a reorg.")
        self.gas = self._counter("ledger_anchor_gas_total", "Gas used by confirmed anchors.")
        self.rpc_errors = self._counter("ledger_rpc_errors_total",
                                        "Failed calls to the chain node.")
        self.tx_fees = self._counter(
            "ledger_tx_fees_wei_total",
            "Fees paid by the service account for every mined transaction "
            "(anchors, settlements, relayed splits; reverted ones too).",
        )
        self.tx_replacements = self._counter(
            "ledger_tx_replacements_total", "Stuck transactions re-signed with higher fees."
        )
        self.storage_errors = self._counter(
            "ledger_storage_errors_total", "Requests answered 503 because the database failed."
        )
        self._webhook_deliveries = Counter(
            "ledger_webhook_deliveries_total",
            "Webhook delivery attempts, by outcome (delivered, failed, timeout, "
            "unreachable, gone).", (*self._labelnames, "outcome"), registry=self._own,
        )
        self.webhook_dead_letters = self._counter(
            "ledger_webhook_dead_lettered_total",
            "Events dead-lettered after the retry period.")
        self.anchor_latency = self._labelled(Histogram(
            "ledger_anchor_latency_seconds", "From a batch sealed to its anchor confirmed.",
            self._labelnames, registry=self._own, buckets=ANCHOR_LATENCY_BUCKETS,
        ))

    @property
    def _labelnames(self) -> tuple[str, ...]:
        return () if self._replica is None else ("replica",)

    @property
    def _own(self) -> CollectorRegistry | None:
        """Where this process's metrics register: nowhere when shared, as the
        multiprocess collector reads every process's values from their files."""
        return self._registry if self._replica is None else None

    def _labelled(self, metric: _M) -> _M:
        return metric if self._replica is None else metric.labels(self._replica)

    def _counter(self, name: str, help_text: str) -> Counter:
        return self._labelled(Counter(name, help_text, self._labelnames, registry=self._own))

    def webhook_delivery(self, outcome: str) -> None:
        """Count one webhook delivery attempt that ended with `outcome`."""
        labels = (outcome,) if self._replica is None else (self._replica, outcome)
        self._webhook_deliveries.labels(*labels).inc()

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Register a gauge set from `read` at every `refresh`."""
        # livesum: with one live process a replica label, the sum is that process's
        # value, and a process that ended takes its gauges with it (`process_exited`).
        gauge = Gauge(name, help_text, self._labelnames, registry=self._own,
                      multiprocess_mode="livesum")
        self._gauges.append((self._labelled(gauge), read))

    def refresh(self) -> None:
        """Set every gauge from its reader (with several serving processes, every
        second, so the others' scrapes see values at most that old)."""
        for gauge, read in self._gauges:
            gauge.set(read())

    def render(self) -> str:
        """The whole exposition document, every serving process's series included."""
        self.refresh()
        return generate_latest(self._registry).decode()
