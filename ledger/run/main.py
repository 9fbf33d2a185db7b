"""`ledger serve`: one serving process, or a supervisor of several on one port."""

from __future__ import annotations

import signal

from ledger.config import Settings
from ledger.run.process import make_private
from ledger.run.serve import serve_until_signalled
from ledger.run.supervisor import supervise


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (several processes on one port
    when `serve_processes` > 1)."""
    make_private(settings.data_dir)
    if settings.serve_processes > 1:
        await supervise(settings)
        return
    await serve_until_signalled(settings, (signal.SIGINT, signal.SIGTERM))
