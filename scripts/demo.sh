#!/usr/bin/env bash
# The main job: set up, then run `ledger demo` on the embedded default (SQLite and
# a local anvil it starts and deploys to). Extra arguments go to `ledger demo`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
exec .venv/bin/ledger demo "$@"
