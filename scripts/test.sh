#!/usr/bin/env bash
# The whole test suite: set-up, lint, types, contract tests, then pytest
# (unit, property, chain and service tests against a real anvil and database).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
# Set-up must leave a fresh clone clean (npm ci never rewrites the lock file; a lock
# made on one platform alone once made `npm install` add the others' Foundry binaries).
if [ -d .git ] && [ -n "$(git status --porcelain -- package-lock.json)" ]; then
  echo "set-up changed package-lock.json: commit a lock file a fresh install keeps" >&2
  exit 1
fi

echo "== ruff" && .venv/bin/ruff check ledger tests bench
echo "== mypy --strict" && .venv/bin/mypy
echo "== forge test" && node_modules/.bin/forge test
echo "== slither" && scripts/slither.sh
echo "== pytest"
status=0
# Unbuffered, so a CI log cut off at its time limit ends at the test that was running
# (piped, pytest's progress otherwise arrives in blocks, minutes behind).
export PYTHONUNBUFFERED=1
# The 25 slowest tests close the log: where to look when the suite grows past ~15 min.
# Three workers, a test file each at a time (files that share a port or a folder keep
# their tests in order): most integration tests wait on a chain or a child process,
# so this halves the suite on two cores (18 -> 9.5 min for tests/integration).
# Files with a slow test first (tests/conftest.py), not xdist's default of the files
# with most tests first, which handed the three-minute replica test out last.
.venv/bin/pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=25 "$@" || status=$?
# pytest exits 5 when it collected nothing: for this suite that is a broken
# collection, never success.
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: treating as failure" >&2
  exit 1
fi
exit "$status"
