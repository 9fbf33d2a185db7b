"""Prometheus text-format metrics, kept in-process (no client library needed).

With several serving processes on one port (`serve_processes`), a scrape reaches
any one of them: each then labels its series with ``replica="…"`` and publishes
them to a shared folder every second (`MetricsShare`), and whichever process is
scraped answers with every process's series.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _labelled(name: str, labels: str, value: str) -> str:
    return f"{name}{{{labels}}} {value}" if labels else f"{name} {value}"


@dataclass
class Counter:
    """A monotonically increasing count."""

    name: str
    help: str
    value: float = 0.0
    kind = "counter"

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (never negative)."""
        self.value += amount

    def samples(self, labels: str = "") -> list[str]:
        """Prometheus sample lines, each with `labels` (``k="v",…``) if given."""
        return [_labelled(self.name, labels, f"{self.value:g}")]


@dataclass
class Gauge:
    """A value read when scraped."""

    name: str
    help: str
    read: Callable[[], float]
    kind = "gauge"

    def samples(self, labels: str = "") -> list[str]:
        """Prometheus sample lines, each with `labels` (``k="v",…``) if given."""
        return [_labelled(self.name, labels, f"{self.read():g}")]


@dataclass
class Histogram:
    """Observations counted into fixed buckets."""

    name: str
    help: str
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    observations: int = 0
    kind = "histogram"

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Record one observation."""
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.observations += 1

    def samples(self, labels: str = "") -> list[str]:
        """Prometheus sample lines (cumulative buckets), each with `labels` if given."""
        prefix = f"{labels}," if labels else ""
        lines = []
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            lines.append(f'{self.name}_bucket{{{prefix}le="{bound:g}"}} {running}')
        lines.append(f'{self.name}_bucket{{{prefix}le="+Inf"}} {self.observations}')
        lines.append(_labelled(f"{self.name}_sum", labels, f"{self.total:g}"))
        lines.append(_labelled(f"{self.name}_count", labels, str(self.observations)))
        return lines


Metric = Counter | Gauge | Histogram


class MetricsShare:
    """A folder where each serving process publishes its samples for the others.

    One JSON file a process (``<name>.json``, replaced atomically): metric name →
    sample lines. A file left by a process that died stays until its successor
    (same name) replaces it; its counters then restart from zero, as after any
    restart.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        folder.mkdir(parents=True, exist_ok=True)

    def publish(self, samples: dict[str, list[str]]) -> None:
        """Replace this process's file with `samples`."""
        path = self.folder / f"{self.name}.json"
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(samples), encoding="utf-8")
        temporary.replace(path)

    def others(self) -> list[dict[str, list[str]]]:
        """Every other process's last published samples (unreadable files skipped)."""
        out = []
        for path in sorted(self.folder.glob("*.json")):
            if path.stem == self.name:
                continue
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    out.append(data)
        return out


class Metrics:
    """Every metric the service exports."""

    def __init__(self, share: MetricsShare | None = None) -> None:
        self.share = share
        self._labels = "" if share is None else f'replica="{share.name}"'
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
        self._metrics: list[Metric] = [
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
        ]

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Register a gauge read at scrape time."""
        self._metrics.append(Gauge(name, help_text, read))

    def samples(self) -> dict[str, list[str]]:
        """This process's sample lines by metric name."""
        return {metric.name: metric.samples(self._labels) for metric in self._metrics}

    def publish(self) -> None:
        """Share this process's samples with the other serving processes (if any)."""
        if self.share is not None:
            self.share.publish(self.samples())

    def render(self) -> str:
        """The whole exposition document, every serving process's series included."""
        others = [] if self.share is None else self.share.others()
        lines: list[str] = []
        for metric in self._metrics:
            lines.append(f"# HELP {metric.name} {metric.help}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            lines.extend(metric.samples(self._labels))
            for other in others:
                lines.extend(other.get(metric.name, []))
        return "\n".join(lines) + "\n"
