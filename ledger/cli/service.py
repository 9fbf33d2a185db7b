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
from typing import TYPE_CHECKING, Any

from ledger.cli.common import EXIT_OK, Commands, service_url, url_option
from ledger.cli.licence import add_status_arguments, cmd_file_status
from ledger.errors import ConfigError

if TYPE_CHECKING:  # the parser is built without the 1.1 machinery
    from ledger.cli.upload import Library

EXIT_FAILED = 1


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


def _add_submit(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "submit", help="submit signed manifests to the service",
        description="A 1.1 manifest is sent as its header, then its assets (assets.jsonl "
        "beside it) in chunks, a few at a time; run the command again after an "
        "interruption and only the missing chunks are sent.",
    )
    command.add_argument("files", nargs="+", type=Path, help="signed manifest files")
    command.add_argument("--assets", type=Path, metavar="FILE",
                         help="1.1: the entries of the one 1.1 manifest given (default: "
                              "assets.jsonl beside it)")
    command.add_argument("--chunk-size", type=int, default=4096,
                         help="1.1: assets per chunk, a power of two up to 16384 "
                              "(default 4096)")
    command.add_argument("--receipts", type=Path, metavar="DIR",
                         help="save each intake receipt (the service's signed promise to "
                              "anchor by a deadline) as DIR/<digest>.receipt.json")
    _wait_options(command, "wait until every proof is ready, reporting progress on stderr")
    url_option(command)
    command.set_defaults(handler=cmd_submit)


def _wait_options(command: argparse.ArgumentParser, wait_help: str) -> None:
    command.add_argument("--wait", action="store_true", help=wait_help)
    command.add_argument("--timeout", type=float, default=600.0,
                         help="with --wait: give up after this many seconds (default 600)")
    command.add_argument("--rpc-url", help="with --wait: the chain, to report each anchor's "
                                           "block and depth (default: the service's)")


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit manifests (1.0 in chunks through the batch endpoint, 1.1 as uploads); print
    each digest, then with --wait follow them to their proofs."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.core.canonical import parse_strict
    from ledger.core.manifest import is_header_version

    docs = [parse_strict(path.read_bytes()) for path in args.files]
    headers = [(path, doc) for path, doc in zip(args.files, docs, strict=True)
               if isinstance(doc, dict) and is_header_version(doc.get("manifestVersion"))]
    plain = [(path, doc) for path, doc in zip(args.files, docs, strict=True)
             if not any(path is other for other, _ in headers)]
    # Every library's entries are checked against its header before anything is sent.
    libraries = _read_libraries(args, headers)

    async def submit() -> list[Any]:
        async with LedgerClient(service_url(args.url)) as client:
            results: list[Any] = []
            for start in range(0, len(plain), 500):
                results += await client.submit_many([d for _, d in plain[start : start + 500]])
                _progress(len(results), len(plain))
            return results

    failed = 0
    accepted = []
    if args.receipts is not None:
        args.receipts.mkdir(parents=True, exist_ok=True)
    for (path, _), result in zip(plain, asyncio.run(submit()) if plain else [], strict=True):
        if "error" in result:
            failed += 1
            say_refused(str(path), result["error"])
        else:
            accepted.append(_accepted(args, path, result["manifestDigest"], result["receipt"]))
    for path, library in libraries:
        accepted.append(_submit_library(args, path, library))
    if args.wait and accepted:
        _say(f"{len(accepted)} accepted; waiting for their proofs (up to {args.timeout:g} s)")
        asyncio.run(_wait_proofs(args, accepted))
        _say("every proof is ready: ledger proof DIGEST -o bundle.json")
    return 2 if failed else EXIT_OK


def _accepted(args: argparse.Namespace, path: Path, digest: str, receipt: Any) -> str:
    print(f"{digest}  {path}", flush=True)
    if args.receipts is not None:
        (args.receipts / f"{digest}.receipt.json").write_text(json.dumps(receipt, indent=2) + "\n")
    return digest


def _read_libraries(
    args: argparse.Namespace, headers: list[tuple[Path, Any]]
) -> list[tuple[Path, Library]]:
    from ledger.app.packager import ASSETS_FILE
    from ledger.cli.upload import read_library

    if args.assets is not None and len(headers) != 1:
        raise ConfigError("goes with exactly one 1.1 manifest", field="--assets")
    return [(path, read_library(header, args.assets or path.parent / ASSETS_FILE,
                                args.chunk_size)) for path, header in headers]


def _submit_library(args: argparse.Namespace, path: Path, library: Library) -> str:
    """Upload one 1.1 manifest and its assets; its digest once the service accepted it."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.cli.upload import upload_library, upload_progress

    progress = upload_progress(sys.stderr) if sys.stderr.isatty() else None

    async def upload() -> dict[str, Any]:
        async with LedgerClient(service_url(args.url)) as client:
            return await upload_library(client, library, progress=progress)

    view = asyncio.run(upload())
    return _accepted(args, path, view["digest"], view["receipt"])


async def _wait_proofs(args: argparse.Namespace, digests: list[str]) -> dict[str, Any]:
    from ledger.cli.client import LedgerClient
    from ledger.cli.wait import ProofWaiter

    if not args.timeout > 0:
        raise ConfigError("must be greater than 0", field="timeout")
    async with LedgerClient(service_url(args.url)) as client:
        waiter = ProofWaiter(client, _say, timeout=args.timeout, rpc_url=args.rpc_url)
        return await waiter.wait(digests)


def _add_proof(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "proof", help="fetch a manifest's proof bundle, or one asset's proof (--asset)")
    command.add_argument("digest", help="the manifest digest (0x…)")
    command.add_argument("-o", "--output", type=Path, help="write the bundle here")
    command.add_argument(
        "--asset", metavar="INDEX|ID",
        help="1.1 manifests: fetch this asset's ledger-asset-proof/1, which discloses it "
        "alone (an id is looked up in --assets)")
    command.add_argument("--assets", type=Path, metavar="FILE",
                         help="with --asset ID: the manifest's assets.jsonl")
    _wait_options(command, "wait until the proof is ready, reporting progress on stderr")
    url_option(command)
    command.set_defaults(handler=cmd_proof)


def cmd_proof(args: argparse.Namespace) -> int:
    """Print or save the proof bundle; exit 1 while it is not anchored yet."""
    import asyncio

    from ledger.cli.assets import fetch_asset_proof, write_document
    from ledger.cli.client import LedgerClient

    async def fetch() -> tuple[int, Any]:
        if args.wait:
            bundle = (await _wait_proofs(args, [args.digest]))[args.digest]
            if args.asset is None:
                return 200, bundle
        if args.asset is not None:
            return await asyncio.to_thread(fetch_asset_proof, args)
        async with LedgerClient(service_url(args.url)) as client:
            return await client.proof(args.digest)

    status, body = asyncio.run(fetch())
    if status != 200:
        print(f"not anchored yet: {body['status']}", file=sys.stderr)
        return EXIT_FAILED
    write_document(body, args.output)
    return EXIT_OK


def _add_status(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "status", help="the service's health and recent batches; with FILEs, their "
        "licence status")
    url_option(command)
    add_status_arguments(command)
    command.add_argument(
        "--wait", type=float, metavar="SECONDS", default=0.0,
        help="keep asking until the service answers healthy, for at most SECONDS "
             "(for scripts that start `ledger serve` in the background)",
    )
    command.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """Print health and the latest batches; exit 1 when degraded. With files, their
    licence status instead (`ledger.cli.licence.cmd_file_status`)."""
    if args.files:
        return cmd_file_status(args)
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
