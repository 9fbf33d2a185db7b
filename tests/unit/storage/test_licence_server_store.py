"""The OLP client table's per-wallet cap, on SQLite and PostgreSQL (a real time in ms
is past a 32-bit integer, so the insert's typed values are checked too)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.licence_server import LicenceServerStore, OlpClient

WALLET = "0x" + "ab" * 20
NOW = 1_700_000_000_000  # ms: past 2**31, as every real time is


def _client(n: int, wallet: str = WALLET) -> OlpClient:
    return OlpClient(f"olp-{n:024x}", bytes(32), wallet, f"crawler {n}", NOW + n)


async def test_a_wallet_gets_clients_up_to_its_cap(engine: AsyncEngine) -> None:
    store = LicenceServerStore(engine)
    assert [await store.add_client(_client(n), max_per_wallet=2) for n in range(3)] == [
        True, True, False]
    assert await store.client(_client(2).client_id) is None
    assert await store.add_client(_client(3, "0x" + "cd" * 20), max_per_wallet=2)
    stored = await store.client(_client(0).client_id)
    assert stored == _client(0)

