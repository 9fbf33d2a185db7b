"""An open-loop load generator of licensed fetches: request i leaves at start + i/rate
whatever the answers before it, so a slow edge shows as latency, not as fewer requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class Fetch:
    """One request's outcome: HTTP status (0: no answer), seconds, usage event id."""

    status: int
    seconds: float
    event_id: str


async def _one(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> Fetch:
    began = time.perf_counter()
    try:
        async with http.get(url, headers=headers) as resp:
            await resp.read()
            return Fetch(resp.status, time.perf_counter() - began,
                         resp.headers.get("X-Usage-Event", ""))
    except (aiohttp.ClientError, OSError):
        return Fetch(0, time.perf_counter() - began, "")


async def fire(http: aiohttp.ClientSession, urls: Sequence[str], count: int, rate: float,
               token_for: Callable[[str], str] | None = None) -> list[Fetch]:
    """`count` GETs cycling through `urls` at `rate` per second, with
    ``Authorization: License <token_for(url)>`` when `token_for` is given."""
    start = time.perf_counter()
    tasks = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        url = urls[i % len(urls)]
        headers = {} if token_for is None else {"Authorization": "License " + token_for(url)}
        tasks.append(asyncio.create_task(_one(http, url, headers)))
    return list(await asyncio.gather(*tasks))
