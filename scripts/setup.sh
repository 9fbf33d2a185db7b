#!/usr/bin/env bash
# Installs everything ledger needs from the project's own files; safe to run again.
# A stamp records the hash of each manifest file so an unchanged install is skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stamps=".venv/.stamps"

fresh() {  # fresh NAME FILE...: true when FILE... changed since the stamp NAME was written
  local want have=""
  want="$(cat "${@:2}" | sha256sum | cut -d' ' -f1)"
  [ -f "$stamps/$1" ] && have="$(cat "$stamps/$1")"
  [ "$want" != "$have" ] && echo "$want" >"$stamps/$1.new"
}
done_stamp() { mv "$stamps/$1.new" "$stamps/$1"; }

python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
[ -x .venv/bin/python ] || "$python" -m venv .venv
mkdir -p "$stamps"

if fresh python pyproject.toml setup.py ledger/core/_keccak.c; then
  echo "setup: installing the Python package and its tools into .venv" >&2
  # compat mode puts the repo on sys.path: simple, and it keeps working as files move.
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]' \
    --config-settings editable_mode=compat
  done_stamp python
fi

if [ ! -d node_modules/@foundry-rs ] || fresh npm package.json package-lock.json; then
  echo "setup: installing npm packages (Foundry, solc, OpenZeppelin, the verifier page's)" >&2
  # `npm ci` installs exactly the lock and never rewrites it, so a fresh clone stays
  # clean. The lock lists the Foundry binaries of every platform (npm installs only
  # this one's); a lock made on one platform alone made `npm install` add the others'.
  npm ci --no-audit --no-fund --loglevel=error
  [ -f "$stamps/npm.new" ] && done_stamp npm
fi

# The test suite runs the service on a throwaway PostgreSQL cluster too.
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "setup: installing PostgreSQL from the system's packages" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi

# The verifier page's tests drive a real browser: Debian's Chromium, since a browser
# build of Playwright's own cannot be downloaded here (tests/browser/page.py).
if ! command -v chromium >/dev/null; then
  echo "setup: installing Chromium from the system's packages" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# The metadata tests read what `ledger package --embed` wrote with a reader we did
# not write: ExifTool (docs/metadata.md).
if ! command -v exiftool >/dev/null; then
  echo "setup: installing ExifTool from the system's packages" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libimage-exiftool-perl >/dev/null
fi

# forge rebuilds only what changed, so this is cheap when nothing did.
node_modules/.bin/forge build --quiet
