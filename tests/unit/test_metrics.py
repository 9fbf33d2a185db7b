"""Metrics: the exposition document, alone and shared among serving processes."""

from __future__ import annotations

from pathlib import Path

from ledger.metrics import Metrics, MetricsShare


def test_one_process_exposes_unlabelled_series() -> None:
    metrics = Metrics()
    metrics.accepted.inc(3)
    metrics.anchor_latency.observe(0.7)
    metrics.gauge("ledger_queue_depth", "Manifests waiting.", lambda: 5)
    text = metrics.render()
    assert "ledger_manifests_accepted_total 3\n" in text
    assert 'ledger_anchor_latency_seconds_bucket{le="1"} 1\n' in text
    assert "ledger_anchor_latency_seconds_count 1\n" in text
    assert "# TYPE ledger_queue_depth gauge\nledger_queue_depth 5\n" in text


def test_each_process_answers_with_every_process_series(tmp_path: Path) -> None:
    first, second = (Metrics(MetricsShare(tmp_path, name)) for name in ("0", "1"))
    first.accepted.inc(2)
    second.accepted.inc(5)
    second.anchor_latency.observe(3)
    second.publish()
    text = first.render()
    # One HELP and TYPE a metric, then its series from each process.
    assert text.count("# TYPE ledger_manifests_accepted_total counter") == 1
    assert ('ledger_manifests_accepted_total{replica="0"} 2\n'
            'ledger_manifests_accepted_total{replica="1"} 5\n') in text
    assert 'ledger_anchor_latency_seconds_bucket{replica="1",le="5"} 1\n' in text
    assert 'ledger_anchor_latency_seconds_sum{replica="1"} 3\n' in text
    # The first has not published: the second sees only itself, and is not confused by
    # a torn or foreign file.
    (tmp_path / "2.json").write_text("{not json")
    assert 'replica="0"' not in second.render()
    first.publish()
    assert 'ledger_manifests_accepted_total{replica="0"} 2\n' in second.render()
