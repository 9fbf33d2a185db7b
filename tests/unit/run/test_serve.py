"""ledger.run.process and ledger.run.serve: leaving after a clean stop despite a stray
thread; server options."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sys, threading
from ledger.run.process import exit_past_stray_threads
logging.basicConfig(level="INFO")
if sys.argv[1] == "stray":
    threading.Thread(target=threading.Event().wait, name="stuck-driver").start()
exit_past_stray_threads(0.2)
print("returned")
"""


def run(case: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True,
                          text=True, timeout=60, check=False)


def test_a_stray_thread_does_not_keep_the_process() -> None:
    done = run("stray")
    assert done.returncode == 0
    assert "returned" not in done.stdout
    assert "threads still run after a clean stop: stuck-driver" in done.stderr


def test_without_stray_threads_it_returns() -> None:
    done = run("none")
    assert done.returncode == 0 and done.stdout.strip() == "returned"
    assert "threads still run" not in done.stderr


def test_the_server_never_inflates_request_bodies() -> None:
    """A gzip bomb once made aiohttp inflate gigabytes on the event loop after a 415
    (issue 11): bodies are never decompressed, whatever the route."""
    from ledger.config import Settings
    from ledger.run.serve import server_options

    options = server_options(Settings())
    assert options["auto_decompress"] is False
    assert options["keepalive_timeout"] == Settings().idle_timeout_s
