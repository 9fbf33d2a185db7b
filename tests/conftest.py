"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg import ThrowawayPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """One PostgreSQL cluster for the session; tests take a fresh database each."""
    cluster = ThrowawayPostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
