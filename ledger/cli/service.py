"""The ``ledger`` subcommands that run or talk to the service.

`serve` and `demo` run it; `submit`, `proof`, `status` and `creator` are HTTP
clients; `deploy` puts the contracts on any chain. Like every subcommand they
end a user error with one line and exit status 2 (see `ledger.cli.main`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ledger.cli.common import EXIT_OK, Commands
from ledger.errors import ConfigError

EXIT_FAILED = 1
DEFAULT_URL = "http://127.0.0.1:8710"


def add_service_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register serve, demo, deploy, submit, proof and status."""
    _add_serve(commands)
    _add_demo(commands)
    _add_deploy(commands)
    _add_submit(commands)
    _add_proof(commands)
    _add_status(commands)


# -- serve / demo -----------------------------------------------------------------


def _add_serve(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "serve", help="run the HTTP service and its workers",
        description="Run the service until SIGINT/SIGTERM. Without --rpc-url it runs the "
        "embedded default: SQLite and its own anvil in the data dir. Each option overrides "
        "the --config file and the LEDGER_* variable of the same name "
        "(docs/operations.md lists every setting).",
    )
    command.add_argument("--config", type=Path, help="TOML settings file")
    command.add_argument("--data-dir", type=Path,
                         help="folder for the database, keys, chain and endpoint.json "
                              "(default .ledger)")
    command.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    command.add_argument("--port", type=int, help="port to listen on; 0 picks a free one "
                                                  "(default 8710)")
    command.add_argument("--rpc-url", help="an EVM node; without it an embedded anvil runs")
    command.add_argument("--db-url", help="postgresql+asyncpg://… (default: SQLite in data dir)")
    command.add_argument("--anchorer-key-file", type=Path,
                         help="the anchoring account's key file (hex or `keygen --type eth`, "
                              "0600); needed with --rpc-url unless --anchorer-signer")
    command.add_argument("--anchorer-signer", help="package.module:factory of a KMS-style signer")
    command.add_argument("--deployment-file", type=Path,
                         help="the record `ledger deploy` wrote (default: "
                              "<data dir>/deployment.json)")
    command.add_argument("--replica-id", help="this replica's name among several (default: host)")
    command.add_argument("--processes", type=int, dest="serve_processes",
                         help="serving processes sharing the port (default 1)")
    command.add_argument("--batch-max-size", type=int,
                         help="seal a batch at this many manifests (default 10000)")
    command.add_argument("--batch-max-age", type=float, dest="batch_max_age_s",
                         help="seal a batch once its oldest manifest waited this many "
                              "seconds (default 5)")
    command.add_argument("--confirmations", type=int,
                         help="blocks on top of an anchor before its proofs are served "
                              "(default 2)")
    command.add_argument("--log-level", help="debug, info, warning or error (default info)")
    command.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM."""
    from ledger.config import load_settings
    from ledger.run.compose import configure_logging
    from ledger.run.main import serve
    from ledger.run.process import event_loop_runner, exit_past_stray_threads

    names = (
        "data_dir",
        "host",
        "port",
        "rpc_url",
        "db_url",
        "anchorer_key_file",
        "anchorer_signer",
        "deployment_file",
        "replica_id",
        "serve_processes",
        "batch_max_size",
        "batch_max_age_s",
        "confirmations",
        "log_level",
    )
    settings = load_settings(file=args.config, overrides={n: getattr(args, n) for n in names})
    configure_logging(settings.log_level)
    with event_loop_runner() as runner:
        runner.run(serve(settings))
    exit_past_stray_threads()
    return EXIT_OK


def _add_demo(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "demo", help="package, sign, submit, anchor and verify 1,000 manifests end to end"
    )
    command.add_argument("--data-dir", type=Path, help="default: a new folder under .ledger/")
    command.add_argument("--manifests", type=int, default=1000,
                         help="how many manifests to package and anchor (default 1000)")
    command.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the end-to-end demo on the embedded default; exit 1 if anything fails."""
    import asyncio

    from ledger.cli.demo import demo_settings, run_demo

    if not 1 <= args.manifests <= 100_000:
        raise ConfigError("must be between 1 and 100000", field="--manifests")
    data_dir = args.data_dir or Path(".ledger") / time.strftime("demo-%Y%m%d-%H%M%S")
    say = _say
    say(f"ledger demo: data in {data_dir}")
    outcome = asyncio.run(run_demo(demo_settings(data_dir), manifests=args.manifests, say=say))
    print(outcome.table())
    if not outcome.ok:
        say("ledger demo: FAILED: see the summary above")
        return EXIT_FAILED
    say("ledger demo: every proof verified three ways; royalties paid and withdrawn")
    return EXIT_OK


# -- deploy -------------------------------------------------------------------------


def _add_deploy(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("deploy", help="deploy the contracts to an EVM chain")
    command.add_argument("--rpc-url", required=True, help="the chain's JSON-RPC endpoint")
    command.add_argument(
        "--key-file", type=Path, help="deployer key (hex); or set LEDGER_DEPLOYER_KEY"
    )
    command.add_argument("--anchorer", action="append", default=[],
                         help="an address allowed to anchor (repeatable; default: the deployer)")
    command.add_argument("--meter", action="append", default=[],
                         help="an address allowed to settle usage (repeatable; default: the "
                              "deployer)")
    command.add_argument("-o", "--output", type=Path, default=Path("deployment.json"),
                         help="where to write the deployment record (default deployment.json)")
    command.set_defaults(handler=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy AnchorRegistry (and RoyaltySplitter) and write the deployment record."""
    import asyncio

    from eth_account import Account

    from ledger.chain.deploy import deploy_contracts
    from ledger.chain.rpc import connect
    from ledger.keyfile import load_account_key

    key = os.environ.get("LEDGER_DEPLOYER_KEY") or (
        load_account_key(args.key_file, field="key_file") if args.key_file else None
    )
    if not key:
        raise ConfigError("give --key-file or set LEDGER_DEPLOYER_KEY", field="key")
    deployer = Account.from_key(key).address

    async def deploy() -> Any:
        w3 = connect(args.rpc_url)
        try:
            return await deploy_contracts(
                w3, key, anchorers=args.anchorer or [deployer], meters=args.meter or [deployer]
            )
        finally:
            await w3.provider.disconnect()

    deployment = asyncio.run(deploy())
    deployment.write(args.output)
    print(
        f"AnchorRegistry {deployment.registry.address} on chain {deployment.chain_id}; "
        f"record in {args.output}"
    )
    return EXIT_OK


# -- HTTP clients ---------------------------------------------------------------------


def _url_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--url", help=f"service URL (default: $LEDGER_URL, .ledger/endpoint.json, {DEFAULT_URL})"
    )


def endpoint_record(data_dir: Path) -> dict[str, Any]:
    """What a local service started with ``data_dir`` recorded in its endpoint.json
    (url, rpcUrl, chainId, registry), or {} when there is none."""
    path = data_dir / "endpoint.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return doc if isinstance(doc, dict) else {}


def service_url(explicit: str | None) -> str:
    """The service to talk to: the flag, $LEDGER_URL, a local endpoint file, or the default."""
    if explicit:
        return explicit
    if os.environ.get("LEDGER_URL"):
        return os.environ["LEDGER_URL"]
    endpoint = Path(".ledger") / "endpoint.json"
    if endpoint.exists():
        return str(json.loads(endpoint.read_text())["url"])
    return DEFAULT_URL


def _add_submit(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("submit", help="submit signed manifests to the service")
    command.add_argument("files", nargs="+", type=Path, help="signed manifest files")
    command.add_argument("--receipts", type=Path, metavar="DIR",
                         help="save each intake receipt (the service's signed promise to "
                              "anchor by a deadline) as DIR/<digest>.receipt.json")
    _wait_options(command, "wait until every proof is ready, reporting progress on stderr")
    _url_option(command)
    command.set_defaults(handler=cmd_submit)


def _wait_options(command: argparse.ArgumentParser, wait_help: str) -> None:
    command.add_argument("--wait", action="store_true", help=wait_help)
    command.add_argument("--timeout", type=float, default=600.0,
                         help="with --wait: give up after this many seconds (default 600)")
    command.add_argument("--rpc-url", help="with --wait: the chain, to report each anchor's "
                                           "block and depth (default: the service's)")


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit manifests (in chunks through the batch endpoint); print each digest, then
    with --wait follow them to their proofs."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.core.canonical import parse_strict

    docs = [parse_strict(path.read_bytes()) for path in args.files]

    async def submit() -> list[Any]:
        async with LedgerClient(service_url(args.url)) as client:
            results: list[Any] = []
            for start in range(0, len(docs), 500):
                results += await client.submit_many(docs[start : start + 500])
                _progress(len(results), len(docs))
            return results

    failed = 0
    accepted = []
    if args.receipts is not None:
        args.receipts.mkdir(parents=True, exist_ok=True)
    for path, result in zip(args.files, asyncio.run(submit()), strict=True):
        if "error" in result:
            failed += 1
            say_refused(str(path), result["error"])
        else:
            accepted.append(result["manifestDigest"])
            print(f"{result['manifestDigest']}  {path}", flush=True)
            if args.receipts is not None:
                receipt = args.receipts / f"{result['manifestDigest']}.receipt.json"
                receipt.write_text(json.dumps(result["receipt"], indent=2) + "\n")
    if args.wait and accepted:
        _say(f"{len(accepted)} accepted; waiting for their proofs (up to {args.timeout:g} s)")
        asyncio.run(_wait_proofs(args, accepted))
        _say("every proof is ready: ledger proof DIGEST -o bundle.json")
    return 2 if failed else EXIT_OK


async def _wait_proofs(args: argparse.Namespace, digests: list[str]) -> dict[str, Any]:
    from ledger.cli.client import LedgerClient
    from ledger.cli.wait import ProofWaiter

    if not args.timeout > 0:
        raise ConfigError("must be greater than 0", field="timeout")
    async with LedgerClient(service_url(args.url)) as client:
        waiter = ProofWaiter(client, _say, timeout=args.timeout, rpc_url=args.rpc_url)
        return await waiter.wait(digests)


def _add_proof(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("proof", help="fetch a manifest's proof bundle")
    command.add_argument("digest", help="the manifest digest (0x…)")
    command.add_argument("-o", "--output", type=Path, help="write the bundle here")
    _wait_options(command, "wait until the proof is ready, reporting progress on stderr")
    _url_option(command)
    command.set_defaults(handler=cmd_proof)


def cmd_proof(args: argparse.Namespace) -> int:
    """Print or save the proof bundle; exit 1 while it is not anchored yet."""
    import asyncio

    from ledger.cli.client import LedgerClient

    async def fetch() -> tuple[int, Any]:
        if args.wait:
            return 200, (await _wait_proofs(args, [args.digest]))[args.digest]
        async with LedgerClient(service_url(args.url)) as client:
            return await client.proof(args.digest)

    status, body = asyncio.run(fetch())
    if status != 200:
        print(f"not anchored yet: {body['status']}", file=sys.stderr)
        return EXIT_FAILED
    text = json.dumps(body, indent=2) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _add_status(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("status", help="the service's health and recent batches")
    _url_option(command)
    command.add_argument(
        "--wait", type=float, metavar="SECONDS", default=0.0,
        help="keep asking until the service answers healthy, for at most SECONDS "
             "(for scripts that start `ledger serve` in the background)",
    )
    command.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """Print health and the latest batches; exit 1 when degraded."""
    import asyncio

    from ledger.cli.client import LedgerClient, ServiceError

    async def status() -> tuple[int, Any, list[Any]]:
        deadline = time.monotonic() + args.wait
        while True:
            # Read the URL again each time: `ledger serve` writes endpoint.json once it listens.
            async with LedgerClient(service_url(args.url)) as client:
                try:
                    code, health = await client.health()
                    if code == 200 or time.monotonic() >= deadline:
                        return code, health, await client.batches()
                except ServiceError:
                    if time.monotonic() >= deadline:
                        raise
            await asyncio.sleep(0.5)

    code, health, batches = asyncio.run(status())
    print(json.dumps(health, indent=2))
    for batch in batches[-10:]:
        print(f"batch {batch['number']:>6}  {batch['leafCount']:>7} manifests  {batch['status']}")
    return EXIT_OK if code == 200 else EXIT_FAILED


def say_refused(what: str, error: dict[str, Any]) -> None:
    """One stderr line for an item the service refused in a batch answer."""
    where = f" ({error['field']})" if error.get("field") else ""
    print(f"{what}: refused: {error.get('message')}{where}", file=sys.stderr)


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and total > 1:
        print(f"\rsubmitted {done}/{total}", end="" if done < total else "\n", file=sys.stderr)


def _say(message: str) -> None:
    print(message, file=sys.stderr)
