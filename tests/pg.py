"""A throwaway PostgreSQL cluster for tests: its own data folder and free port.

The README's test command installs PostgreSQL when it is missing (scripts/setup.sh);
this module only finds its binaries, so nothing here is skipped in CI.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.support import free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: run scripts/setup.sh")
    return found


class ThrowawayPostgres:
    """`start()` a cluster, `new_database()` per test, `stop()` removes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.port = free_port()
        # PostgreSQL refuses to run as root: run it as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True)

    def start(self) -> None:
        """Create and start the cluster (fsync off: a test cluster needs no durability)."""
        data = self.root / "data"
        if self._as:
            shutil.chown(self.root, user="postgres")
        self._run(_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run(_binary("pg_ctl"), "-D", str(data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "start")

    def halt(self) -> None:
        """Stop the server at once; connected clients see their connections drop."""
        self._run(_binary("pg_ctl"), "-D", str(self.root / "data"), "stop", "-m", "fast", "-w")

    def resume(self) -> None:
        """Start it again after `halt`, with the options it last ran with."""
        self._run(_binary("pg_ctl"), "-D", str(self.root / "data"), "restart", "-w", "-l",
                  str(self.root / "log"))

    def new_database(self) -> str:
        """A fresh empty database; returns its SQLAlchemy async URL."""
        name = "t" + uuid.uuid4().hex[:12]
        self._run(_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the cluster and delete its files."""
        try:
            self._run(_binary("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
