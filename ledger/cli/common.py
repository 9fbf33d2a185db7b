"""What every command group shares: exit statuses and the subparsers type."""

from __future__ import annotations

import argparse

EXIT_OK = 0
#: A user error: one line ``ledger: error: <message>`` on stderr.
EXIT_ERROR = 2

Commands = argparse._SubParsersAction  # the object add_subparsers returns
