"""The ``ledger dev`` subcommands: conveniences for a local development chain.

``ledger dev fund WHO`` gives an account ETH on the embedded default's anvil (or any
local node: chain id 31337 or 1337), so a buyer or creator key made with
``ledger keygen --type eth`` can pay for gas and deposits. Any other chain is refused
before anything is sent: these commands must never reach a real network.
"""

from __future__ import annotations

import argparse
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ledger.cli.common import EXIT_OK, Commands
from ledger.errors import ConfigError, ValidationError

WEI_PER_ETH = 10**18
_ETH = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*eth\s*", re.IGNORECASE)


def add_dev_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``ledger dev fund`` and ``ledger dev rpc-url``."""
    dev = commands.add_parser("dev", help="local development chain helpers (funding, its URL)")
    actions = dev.add_subparsers(dest="dev_action", required=True, metavar="ACTION")
    fund = actions.add_parser(
        "fund", help="give an account ETH on a local chain (chain id 31337 or 1337 only)",
        description="Add ETH to an account's balance on a local development chain "
        "(anvil_setBalance). Without --rpc-url: the chain of the service started with "
        "--data-dir. Refused on any other chain id.",
    )
    fund.add_argument("who", metavar="ADDRESS_OR_KEY",
                      help="a 0x address, or an Ethereum key file (ledger keygen --type eth)")
    fund.add_argument("--amount", default="100ETH",
                      help='how much to add: "10ETH" (ether, decimals allowed) or an integer '
                           'of wei (default 100ETH)')
    fund.add_argument("--rpc-url", help="the chain (default: the local service's, from "
                                        "<data dir>/endpoint.json)")
    fund.add_argument("--data-dir", type=Path, default=Path(".ledger"),
                      help="a local service's data dir (default .ledger)")
    fund.set_defaults(handler=cmd_dev_fund)
    rpc = actions.add_parser(
        "rpc-url", help="print the RPC URL of the local service's chain",
        description="Print the chain node URL that `ledger serve` recorded in "
        "<data dir>/endpoint.json: on the embedded default, its anvil's loopback port.",
    )
    rpc.add_argument("--data-dir", type=Path, default=Path(".ledger"),
                     help="a local service's data dir (default .ledger)")
    rpc.set_defaults(handler=cmd_dev_rpc_url)


def cmd_dev_fund(args: argparse.Namespace) -> int:
    """ledger dev fund WHO [--amount A] [--rpc-url U]: print the new balance."""
    from ledger.chain.anvil import fund
    wei = parse_amount(args.amount)
    address = _address(args.who)
    rpc_url = args.rpc_url or _local_rpc_url(args.data_dir)
    balance = fund(rpc_url, address, wei)
    print(f"{address} now holds {Decimal(balance) / WEI_PER_ETH:f} ETH ({balance} wei)")
    return EXIT_OK


def cmd_dev_rpc_url(args: argparse.Namespace) -> int:
    """ledger dev rpc-url: print the local service's chain URL."""
    print(_local_rpc_url(args.data_dir))
    return EXIT_OK


def _local_rpc_url(data_dir: Path) -> str:
    from ledger.cli.common import endpoint_record

    rpc_url = endpoint_record(data_dir).get("rpcUrl")
    if not rpc_url:
        raise ConfigError(f"no chain: pass --rpc-url or start `ledger serve` (no "
                          f"{data_dir / 'endpoint.json'})", field="rpc_url")
    return str(rpc_url)


def parse_amount(text: str) -> int:
    """Wei from ``"10ETH"`` (ether, decimals allowed, to the wei) or ``"12345"`` (wei)."""
    if text.strip().isdigit():
        return int(text)
    match = _ETH.fullmatch(text)
    if match is None:
        raise ValidationError('must be ether like "10ETH" or an integer of wei', field="amount")
    try:
        wei = Decimal(match[1]) * WEI_PER_ETH
    except InvalidOperation:
        raise ValidationError("is not a number", field="amount") from None
    if wei != wei.to_integral_value():
        raise ValidationError("has more than 18 decimals", field="amount")
    return int(wei)


def _address(who: str) -> str:
    from ledger.core.fields import ADDRESS

    if ADDRESS.fullmatch(who):
        return who
    if who.startswith("0x"):
        raise ValidationError("must be 0x and 40 hex digits, or an Ethereum key file",
                              field="address")
    from eth_account import Account

    from ledger.keyfile import load_account_key

    return str(Account.from_key(load_account_key(Path(who), field="key")).address)
