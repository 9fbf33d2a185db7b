"""The ``ledger`` subcommands that run or talk to the service.

`serve` and `demo` run it; `submit`, `proof`, `status` and `creator` are HTTP
clients; `deploy` puts the contracts on any chain. Like every subcommand they
end a user error with one line and exit status 2 (see `ledger.cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ledger.config import load_settings
from ledger.errors import ConfigError, LedgerError
from ledger.keyfile import load_account_key

EXIT_OK = 0
EXIT_FAILED = 1
DEFAULT_URL = "http://127.0.0.1:8710"

Commands = argparse._SubParsersAction


def add_service_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register serve, demo, deploy, submit, proof, status and creator."""
    _add_serve(commands)
    _add_demo(commands)
    _add_deploy(commands)
    _add_submit(commands)
    _add_proof(commands)
    _add_status(commands)
    _add_creator(commands)


# -- serve / demo -----------------------------------------------------------------


def _add_serve(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("serve", help="run the HTTP service and its workers")
    command.add_argument("--config", type=Path, help="TOML settings file")
    command.add_argument("--data-dir", type=Path)
    command.add_argument("--host")
    command.add_argument("--port", type=int)
    command.add_argument("--rpc-url", help="an EVM node; without it an embedded anvil runs")
    command.add_argument("--db-url", help="postgresql+asyncpg://… (default: SQLite in data dir)")
    command.add_argument("--anchorer-key-file", type=Path)
    command.add_argument("--anchorer-signer", help="package.module:factory of a KMS-style signer")
    command.add_argument("--deployment-file", type=Path)
    command.add_argument("--replica-id", help="this replica's name among several (default: host)")
    command.add_argument("--processes", type=int, dest="serve_processes",
                         help="serving processes sharing the port (default 1)")
    command.add_argument("--batch-max-size", type=int)
    command.add_argument("--batch-max-age", type=float, dest="batch_max_age_s")
    command.add_argument("--confirmations", type=int)
    command.add_argument("--log-level")
    command.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM."""
    from ledger.service.runtime import configure_logging
    from ledger.service.serve import event_loop_runner, exit_past_stray_threads, serve

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
    command.add_argument("--manifests", type=int, default=1000)
    command.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the end-to-end demo on the embedded default; exit 1 if anything fails."""
    from ledger.demo import demo_settings, run_demo

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
    command.add_argument("--rpc-url", required=True)
    command.add_argument(
        "--key-file", type=Path, help="deployer key (hex); or set LEDGER_DEPLOYER_KEY"
    )
    command.add_argument("--anchorer", action="append", default=[], help="address (repeatable)")
    command.add_argument("--meter", action="append", default=[], help="address (repeatable)")
    command.add_argument("-o", "--output", type=Path, default=Path("deployment.json"))
    command.set_defaults(handler=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    """Deploy AnchorRegistry (and RoyaltySplitter) and write the deployment record."""
    from eth_account import Account

    from ledger.chain.deploy import deploy_contracts
    from ledger.chain.rpc import connect

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
    command.add_argument("files", nargs="+", type=Path)
    command.add_argument("--wait", action="store_true", help="wait until every proof is ready")
    _url_option(command)
    command.set_defaults(handler=cmd_submit)


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit manifests (in chunks through the batch endpoint); print each digest."""
    from ledger.client import LedgerClient
    from ledger.core.canonical import parse_strict

    docs = [parse_strict(path.read_bytes()) for path in args.files]

    async def submit() -> list[Any]:
        async with LedgerClient(service_url(args.url)) as client:
            results: list[Any] = []
            for start in range(0, len(docs), 500):
                results += await client.submit_many(docs[start : start + 500])
                _progress(len(results), len(docs))
            if args.wait:
                for result in results:
                    if "manifest_digest" in result:
                        await _wait_proof(client, result["manifest_digest"])
            return results

    failed = 0
    for path, result in zip(args.files, asyncio.run(submit()), strict=True):
        if "error" in result:
            failed += 1
            error = result["error"]
            where = f" ({error['field']})" if error.get("field") else ""
            print(f"{path}: refused: {error['message']}{where}", file=sys.stderr)
        else:
            print(f"{result['manifest_digest']}  {path}")
    return 2 if failed else EXIT_OK


async def _wait_proof(client: Any, digest: str, timeout: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await client.proof(digest)
        if status == 200:
            return body
        if time.monotonic() > deadline:
            raise LedgerError(f"{digest} not anchored within {timeout:g} s ({body['status']})")
        await asyncio.sleep(0.5)


def _add_proof(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("proof", help="fetch a manifest's proof bundle")
    command.add_argument("digest")
    command.add_argument("-o", "--output", type=Path, help="write the bundle here")
    command.add_argument("--wait", action="store_true")
    _url_option(command)
    command.set_defaults(handler=cmd_proof)


def cmd_proof(args: argparse.Namespace) -> int:
    """Print or save the proof bundle; exit 1 while it is not anchored yet."""
    from ledger.client import LedgerClient

    async def fetch() -> tuple[int, Any]:
        async with LedgerClient(service_url(args.url)) as client:
            if args.wait:
                return 200, await _wait_proof(client, args.digest)
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
    command.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """Print health and the latest batches; exit 1 when degraded."""
    from ledger.client import LedgerClient

    async def status() -> tuple[int, Any, list[Any]]:
        async with LedgerClient(service_url(args.url)) as client:
            code, health = await client.health()
            return code, health, await client.batches()

    code, health, batches = asyncio.run(status())
    print(json.dumps(health, indent=2))
    for batch in batches[-10:]:
        print(f"batch {batch['number']:>6}  {batch['leaf_count']:>7} manifests  {batch['status']}")
    return EXIT_OK if code == 200 else EXIT_FAILED


def _add_creator(commands: Commands[argparse.ArgumentParser]) -> None:
    from ledger.cli_royalty import chain_options

    command = commands.add_parser(
        "creator", help="register a creator, manage its keys, register splits, withdraw"
    )
    command.add_argument(
        "action", choices=("register", "add-key", "revoke-key", "split", "withdraw")
    )
    command.add_argument("creator_id")
    command.add_argument("--key", type=Path, required=True, help="a current key file (signs)")
    command.add_argument("--new-key", type=Path, help="add-key: the new key file (also signs)")
    command.add_argument("--revoke", help="revoke-key: the public key id to revoke")
    command.add_argument("--manifest", type=Path, help="split: the signed manifest file")
    command.add_argument("--token", help='withdraw: only this token ("ETH" or an address)')
    _url_option(command)
    chain_options(command)
    command.set_defaults(handler=cmd_creator)


def cmd_creator(args: argparse.Namespace) -> int:
    """Sign and send a key action, or register splits / withdraw royalties on chain."""
    if args.action in ("split", "withdraw"):
        from ledger.cli_royalty import cmd_creator_split, cmd_creator_withdraw

        return cmd_creator_split(args) if args.action == "split" else cmd_creator_withdraw(args)
    from ledger.client import LedgerClient
    from ledger.core.creators import sign_action
    from ledger.keyfile import load_key

    key = load_key(args.key)
    now = time.time_ns() // 1_000_000
    if args.action == "register":
        action = sign_action("register", args.creator_id, [key.public_id], now, [key])
    elif args.action == "add-key":
        if args.new_key is None:
            raise ConfigError("add-key needs --new-key", field="--new-key")
        new = load_key(args.new_key)
        action = sign_action("add-key", args.creator_id, [new.public_id], now, [key, new])
    else:
        target = args.revoke or key.public_id
        action = sign_action("revoke-key", args.creator_id, [target], now, [key])

    async def send() -> Any:
        async with LedgerClient(service_url(args.url)) as client:
            return (await client.creator_action(action))[1]

    print(json.dumps(asyncio.run(send()), indent=2))
    return EXIT_OK


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() and total > 1:
        print(f"\rsubmitted {done}/{total}", end="" if done < total else "\n", file=sys.stderr)


def _say(message: str) -> None:
    print(message, file=sys.stderr)
