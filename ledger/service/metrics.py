"""Prometheus text-format metrics, kept in-process (no client library needed)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Counter:
    """A monotonically increasing count."""

    name: str
    help: str
    value: float = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (never negative)."""
        self.value += amount

    def render(self) -> list[str]:
        """Prometheus exposition lines."""
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} counter",
            f"{self.name} {self.value:g}",
        ]


@dataclass
class Gauge:
    """A value read when scraped."""

    name: str
    help: str
    read: Callable[[], float]

    def render(self) -> list[str]:
        """Prometheus exposition lines."""
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {self.read():g}",
        ]


@dataclass
class Histogram:
    """Observations counted into fixed buckets."""

    name: str
    help: str
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    observations: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Record one observation."""
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.observations += 1

    def render(self) -> list[str]:
        """Prometheus exposition lines (cumulative buckets)."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            lines.append(f'{self.name}_bucket{{le="{bound:g}"}} {running}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self.observations}')
        lines.append(f"{self.name}_sum {self.total:g}")
        lines.append(f"{self.name}_count {self.observations}")
        return lines


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.accepted = Counter("ledger_manifests_accepted_total", "Manifests newly accepted.")
        self.duplicates = Counter("ledger_manifests_duplicate_total", "Manifests submitted again.")
        self.rejected = Counter("ledger_requests_rejected_total", "Requests answered with a 4xx.")
        self.batched = Counter("ledger_manifests_batched_total", "Manifests sealed into batches.")
        self.batches = Counter("ledger_batches_sealed_total", "Batches sealed.")
        self.anchored = Counter("ledger_batches_anchored_total", "Batches anchored and confirmed.")
        self.reorgs = Counter("ledger_anchor_reorgs_total", "Anchors dropped by a reorg.")
        self.gas = Counter("ledger_anchor_gas_total", "Gas used by confirmed anchors.")
        self.rpc_errors = Counter("ledger_rpc_errors_total", "Failed calls to the chain node.")
        self.tx_fees = Counter(
            "ledger_tx_fees_wei_total",
            "Fees paid by the service account for every mined transaction "
            "(anchors, settlements, relayed splits; reverted ones too).",
        )
        self.tx_replacements = Counter(
            "ledger_tx_replacements_total", "Stuck transactions re-signed with higher fees."
        )
        self.storage_errors = Counter(
            "ledger_storage_errors_total", "Requests answered 503 because the database failed."
        )
        self.anchor_latency = Histogram(
            "ledger_anchor_latency_seconds",
            "From a batch sealed to its anchor confirmed.",
            (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
        )
        self._gauges: list[Gauge] = []

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Register a gauge read at scrape time."""
        self._gauges.append(Gauge(name, help_text, read))

    def render(self) -> str:
        """The whole exposition document."""
        lines: list[str] = []
        for metric in (
            self.accepted,
            self.duplicates,
            self.rejected,
            self.batched,
            self.batches,
            self.anchored,
            self.reorgs,
            self.gas,
            self.rpc_errors,
            self.tx_fees,
            self.tx_replacements,
            self.storage_errors,
            self.anchor_latency,
        ):
            lines.extend(metric.render())
        for gauge in self._gauges:
            lines.extend(gauge.render())
        return "\n".join(lines) + "\n"
