"""`free_port` picks below the kernel's ephemeral range, where neither another socket's
bind(0) nor an outgoing connection is given a port, so the port it names stays free
until the Worker binds it (a CI run lost a Worker's start to such a port taken)."""

from __future__ import annotations

import socket

from ledger.cli.worker import LOWEST_PICKED_PORT, _ephemeral_low, free_port


def test_the_port_is_below_the_ephemeral_range_and_free() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(20)}
    assert all(LOWEST_PICKED_PORT <= port < low for port in ports)
    assert len(ports) > 1  # at random, not the first free one every time
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_picked() -> None:
    held = []
    try:
        for _ in range(30):
            s = socket.socket()
            s.bind(("127.0.0.1", free_port()))
            s.listen()
            held.append(s)
        assert len({s.getsockname()[1] for s in held}) == 30
    finally:
        for s in held:
            s.close()
