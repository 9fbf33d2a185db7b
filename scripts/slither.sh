#!/usr/bin/env bash
# Slither on contracts/src, compared with the triage in contracts/slither-triage.json:
# any finding not listed there (by detector, contract and function or variable) fails
# the run, and so does a listed one that no longer occurs (the triage must stay true).
#
# Slither runs `forge clean` before compiling, so it works on a copy of the contracts in
# a temporary folder, never on the tree the other tests build in. It lives in a venv of
# its own (.venv-slither): it needs web3<8, and the service pins web3 8. About 40 s.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="0.11.6"
venv="$root/.venv-slither"
if [ ! -x "$venv/bin/slither" ] || [ "$(cat "$venv/.version" 2>/dev/null)" != "$version" ]; then
  echo "slither: installing slither-analyzer $version into .venv-slither" >&2
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "slither-analyzer==$version"
  echo "$version" >"$venv/.version"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r contracts foundry.toml "$work/"
rm -rf "$work/contracts/out" "$work/contracts/cache"
mkdir "$work/scripts" && cp scripts/solc.js "$work/scripts/"
ln -s "$root/node_modules" "$work/node_modules"
# Slither exits non-zero whenever it reports anything: the triage below decides.
(cd "$work" && PATH="$root/node_modules/.bin:$PATH" "$venv/bin/slither" . \
  --compile-force-framework foundry --filter-paths "node_modules|contracts/test" \
  --json "$work/findings.json" >"$work/slither.log" 2>&1) || true

"$venv/bin/python" - "$work/findings.json" contracts/slither-triage.json "$work/slither.log" <<'PY'
import json, sys

findings_path, triage_path, log_path = sys.argv[1:]
try:
    report = json.load(open(findings_path))
except (OSError, ValueError):
    sys.exit("slither: no report; its output:\n" + open(log_path).read()[-4000:])
if not report.get("success"):
    sys.exit(f"slither: failed: {report.get('error')}")


def key(result):
    element = result["elements"][0]
    parent = element.get("type_specific_fields", {}).get("parent", {}).get("name", "")
    return f"{result['check']}:{parent}.{element['name']}"


found = {key(r): r for r in report["results"]["detectors"]}
accepted = {entry["finding"]: entry for entry in json.load(open(triage_path))["accepted"]}
new = sorted(set(found) - set(accepted))
gone = sorted(set(accepted) - set(found))
for k in new:
    print(f"slither: NEW {k} ({found[k]['impact']}):\n{found[k]['description']}", file=sys.stderr)
for k in gone:
    print(f"slither: {k} is triaged but no longer reported: remove it from {triage_path}",
          file=sys.stderr)
print(f"slither: {len(found)} findings, {len(found) - len(new)} triaged, {len(new)} new")
sys.exit(1 if new or gone else 0)
PY
