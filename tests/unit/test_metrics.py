"""Metrics: the exposition document, alone and shared among serving processes."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from ledger.metrics import FOLDER_VARIABLE, Metrics, process_exited, share_between_processes


def test_one_process_exposes_unlabelled_series() -> None:
    metrics = Metrics()
    metrics.accepted.inc(3)
    metrics.anchor_latency.observe(0.7)
    metrics.gauge("ledger_queue_depth", "Manifests waiting.", lambda: 5)
    text = metrics.render()
    assert "ledger_manifests_accepted_total 3.0\n" in text
    assert 'ledger_anchor_latency_seconds_bucket{le="0.5"} 0.0\n' in text
    assert 'ledger_anchor_latency_seconds_bucket{le="1.0"} 1.0\n' in text
    assert "ledger_anchor_latency_seconds_count 1.0\n" in text
    assert "# TYPE ledger_queue_depth gauge\nledger_queue_depth 5.0\n" in text
    assert "_created" not in text


def test_gauges_are_read_when_scraped() -> None:
    metrics = Metrics()
    depth = [1]
    metrics.gauge("ledger_queue_depth", "Manifests waiting.", lambda: depth[0])
    depth[0] = 7
    assert "\nledger_queue_depth 7.0\n" in metrics.render()


def test_a_replica_needs_the_shared_folder_set_before_its_process_started() -> None:
    with pytest.raises(RuntimeError, match=FOLDER_VARIABLE):
        Metrics("0")


def serving_process(replica: str, accepted: int, leading: float) -> tuple[int, str]:
    """What a serving process does with its metrics (run in a fresh interpreter): its
    pid and the document it answers a scrape with."""
    metrics = Metrics(replica)
    metrics.accepted.inc(accepted)
    if leading:
        metrics.anchor_latency.observe(3)
    metrics.gauge("ledger_leader", "1 while leading.", lambda: leading)
    return os.getpid(), metrics.render()


def run_serving_process(replica: str, accepted: int, leading: float) -> tuple[int, str]:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(serving_process, replica, accepted, leading).result()


def test_each_process_answers_with_every_process_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FOLDER_VARIABLE, "")  # restored after the test
    share_between_processes(tmp_path / "metrics")
    leader, _ = run_serving_process("1", accepted=5, leading=1)
    _, text = run_serving_process("0", accepted=2, leading=0)
    # One HELP and TYPE a metric, then its series from each process.
    assert text.count("# TYPE ledger_manifests_accepted_total counter") == 1
    assert 'ledger_manifests_accepted_total{replica="0"} 2.0\n' in text
    assert 'ledger_manifests_accepted_total{replica="1"} 5.0\n' in text
    assert 'ledger_anchor_latency_seconds_bucket{le="5.0",replica="1"} 1.0\n' in text
    assert 'ledger_anchor_latency_seconds_sum{replica="1"} 3.0\n' in text
    assert 'ledger_leader{replica="1"} 1.0\n' in text

    # Process 1 ends and is started again: its gauges go with it, its counts stay.
    process_exited(leader)
    _, text = run_serving_process("1", accepted=1, leading=0)
    assert 'ledger_manifests_accepted_total{replica="1"} 6.0\n' in text
    assert text.count('ledger_leader{replica="1"}') == 1
    assert 'ledger_leader{replica="1"} 0.0\n' in text


def test_a_new_run_starts_from_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by the last run")
    monkeypatch.setenv(FOLDER_VARIABLE, "")  # restored after the test
    share_between_processes(folder)
    assert os.environ[FOLDER_VARIABLE] == str(folder)
    assert list(folder.iterdir()) == []
