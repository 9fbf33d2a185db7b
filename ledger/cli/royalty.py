"""The ``ledger buyer …`` and ``ledger creator withdraw|split`` commands (issue 5).

``ledger buyer cosign`` talks to the service instead of the chain: it signs the
settlements the service proposes to a co-signing buyer (`cosign_proposals`).

Buyers and payees act on the `RoyaltySplitter` with their own Ethereum key file
(``ledger keygen --type eth``); the service never holds their keys. The chain and
the splitter come from ``--rpc-url`` / ``--deployment-file``, else from a local
service's ``<data dir>/endpoint.json`` and ``deployment.json``. The work is done
by `ledger.app.payments`, imported when a command runs (web3 is slow to import).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.cli.common import EXIT_OK, Commands
from ledger.errors import ConfigError, LedgerError, ValidationError

if TYPE_CHECKING:
    from ledger.app.payments import Chain
    from ledger.cli.client import LedgerClient
    from ledger.core.manifest import Manifest
    from ledger.core.signing import SigningKey

NO_CAP = 2**128 - 1
ANY_PRICE = 2**96 - 1


# -- command line ----------------------------------------------------------------------------


def add_royalty_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``ledger buyer`` (``ledger creator withdraw|split`` live in cli_service)."""
    buyer = commands.add_parser("buyer", help="a buyer's deposit, limits and withdrawal")
    actions = buyer.add_subparsers(dest="buyer_action", required=True, metavar="ACTION")
    for name, help_text in (("deposit", "deposit ETH or an ERC-20 (approved first)"),
                            ("caps", "set the spending cap and per-asset maximum prices"),
                            ("withdraw", "request a withdrawal (--amount), or withdraw once due"),
                            ("balance", "deposit, spending and limits, and usage")):
        command = actions.add_parser(name, help=help_text)
        command.add_argument("--key", type=Path, help="the buyer's Ethereum key file")
        command.add_argument("--token", default="ETH", help='"ETH" or an ERC-20 address')
        chain_options(command)
        command.set_defaults(handler=_handlers()[name])
    actions.choices["deposit"].add_argument("--amount", type=int, required=True,
                                            help="base units (wei)")
    caps = actions.choices["caps"]
    caps.add_argument("--spending-cap", help='cumulative cap in base units, or "none"')
    caps.add_argument("--cosigning", choices=("on", "off"),
                      help="on: nothing is charged without your signature (ledger buyer cosign)")
    caps.add_argument("--max-price", action="append", default=[], metavar="ASSET=PRICE",
                      help='ASSET: 0x asset key or MANIFEST.json#asset:id; PRICE: base units '
                           'per unit or "any"')
    withdraw_ = actions.choices["withdraw"]
    withdraw_.add_argument("--amount", help='base units or "all"; omit to withdraw once due')
    withdraw_.add_argument("--to", help="where to send it (default: the buyer)")
    actions.choices["balance"].add_argument("--address", help="instead of --key")
    cosign = actions.add_parser("cosign", help="sign the settlements proposed to a co-signing "
                                               "buyer (EIP-712) and hand them in")
    cosign.add_argument("--key", type=Path, help="the buyer's Ethereum key file")
    cosign.add_argument("--url", help="the service (default: the local service's)")
    cosign.add_argument("--data-dir", type=Path, default=Path(".ledger"),
                        help="a local service's data dir (default .ledger)")
    cosign.set_defaults(handler=cmd_buyer_cosign)


def _handlers() -> dict[str, Callable[[argparse.Namespace], int]]:
    return {"deposit": cmd_buyer_deposit, "caps": cmd_buyer_caps,
            "withdraw": cmd_buyer_withdraw, "balance": cmd_buyer_balance}


def chain_options(command: argparse.ArgumentParser) -> None:
    """The options that find the chain and the deployment."""
    command.add_argument("--rpc-url", help="the chain (default: the local service's)")
    command.add_argument("--deployment-file", type=Path,
                         help="the deployment record (default: <data dir>/deployment.json)")
    command.add_argument("--data-dir", type=Path, default=Path(".ledger"),
                         help="a local service's data dir (default .ledger)")


def _run(args: argparse.Namespace, work: Callable[[Chain], Coroutine[Any, Any, Any]]) -> Any:
    import asyncio

    from ledger.app.payments import Chain
    from ledger.chain.deploy import Deployment
    from ledger.chain.rpc import connect

    async def main() -> Any:
        rpc_url = args.rpc_url or _endpoint(args.data_dir).get("rpcUrl")
        if not rpc_url:
            raise ConfigError("no chain: pass --rpc-url or start `ledger serve`", field="rpc_url")
        deployment = Deployment.read(args.deployment_file or args.data_dir / "deployment.json")
        w3 = connect(str(rpc_url))
        try:
            return await work(Chain.open(w3, deployment))
        finally:
            await w3.provider.disconnect()
    return asyncio.run(main())


def _endpoint(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "endpoint.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return doc if isinstance(doc, dict) else {}


def _key(args: argparse.Namespace) -> str:
    from ledger.keyfile import load_account_key

    if args.key is None:
        raise ConfigError("an Ethereum key file is needed", field="key")
    return load_account_key(args.key, field="key")


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def cmd_buyer_deposit(args: argparse.Namespace) -> int:
    """ledger buyer deposit --token T --amount N --key K."""
    from ledger.app import payments

    key = _key(args)
    account = _run(args, lambda chain: payments.deposit(chain, key, args.token, args.amount))
    _print(account.to_obj())
    return EXIT_OK


def cmd_buyer_caps(args: argparse.Namespace) -> int:
    """ledger buyer caps --token T [--spending-cap N|none] [--max-price A=P]... [--cosigning X]."""
    from ledger.app import payments

    key = _key(args)
    cap = None
    if args.spending_cap is not None:
        cap = NO_CAP if args.spending_cap == "none" else _int(args.spending_cap, "spending-cap")
    prices = dict(_max_price(item) for item in args.max_price)
    cosigning = None if args.cosigning is None else args.cosigning == "on"
    account = _run(args, lambda chain: payments.set_limits(
        chain, key, args.token, spending_cap=cap, max_prices=prices, cosigning=cosigning))
    _print(account.to_obj())
    return EXIT_OK


def cmd_buyer_withdraw(args: argparse.Namespace) -> int:
    """ledger buyer withdraw --token T [--amount N|all] [--to A]."""
    from ledger.app import payments

    key = _key(args)
    amount = None
    if args.amount is not None:
        amount = NO_CAP if args.amount == "all" else _int(args.amount, "amount")
    what, account = _run(
        args, lambda chain: payments.withdraw(chain, key, args.token, amount, args.to)
    )
    print(what)
    _print(account.to_obj())
    return EXIT_OK


def cmd_buyer_balance(args: argparse.Namespace) -> int:
    """ledger buyer balance --token T (--key K | --address A)."""
    from ledger.app import payments

    address = args.address or payments.address_of(_key(args))

    async def read(chain: Chain) -> dict[str, Any]:
        account = await chain.splitter.account(address, args.token)
        return {"buyer": address, "token": args.token, **account.to_obj()}

    _print(_run(args, read))
    return EXIT_OK


def cmd_buyer_cosign(args: argparse.Namespace) -> int:
    """ledger buyer cosign --key K [--url U]: sign every settlement awaiting the buyer."""
    import asyncio

    key = _key(args)
    url = args.url or _endpoint(args.data_dir).get("url")
    if not url:
        raise ConfigError("no service: pass --url or start `ledger serve`", field="url")
    answers = asyncio.run(cosign_proposals(str(url), key))
    if not answers:
        print("nothing awaits a signature")
    return EXIT_OK


async def cosign_proposals(url: str, key: str, *, out: Callable[[str], None] = print
                           ) -> list[dict[str, Any]]:
    """Sign, with the buyer's private ``key`` (hex), every settlement the service at ``url``
    proposes to it, and hand the signatures in; ``out`` gets a one-line summary of each.

    Each proposal's typed data is checked against the summary shown (buyer, root, items,
    total, deadline) before it is signed. Returns the service's answers, in order.
    """
    import aiohttp
    from eth_account import Account
    from eth_account.messages import encode_typed_data
    from yarl import URL

    from ledger.cli.client import ServiceError
    from ledger.core.reads import signed_read_headers
    from ledger.core.signing import EthSigningKey

    account = Account.from_key(key)
    base = url.rstrip("/") + f"/v1/buyers/{account.address}"
    # Only the buyer may read its proposals: the read is signed with its key.
    read = signed_read_headers(EthSigningKey.from_hex(key), URL(base + "/proposals").raw_path_qs,
                               int(time.time()))
    answers = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with http.get(base + "/proposals", headers=read) as resp:
                body = await _answer(resp)
            for proposal in body["proposals"]:
                _check_proposal(proposal, str(account.address))
                out(_summary(proposal))
                signed = Account.sign_message(
                    encode_typed_data(full_message=proposal["typedData"]), key)
                request = {"usageRoot": proposal["usageRoot"], "token": proposal["token"],
                           "signature": "0x" + bytes(signed.signature).hex()}
                async with http.post(base + "/cosign", json=request) as resp:
                    answers.append(await _answer(resp))
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ServiceError(f"{url}: {exc or type(exc).__name__}") from exc
    return answers


async def _answer(resp: Any) -> Any:
    from ledger.cli.client import ServiceError

    try:
        payload = await resp.json(content_type=None)
    except ValueError as exc:
        raise ServiceError(f"{resp.method} {resp.url.path}: {resp.status}, not JSON") from exc
    if resp.status >= 300:
        error = payload.get("error", {}) if isinstance(payload, dict) else {}
        raise ServiceError(f"{resp.method} {resp.url.path}: {resp.status} "
                           f"{error.get('message', payload)}", status=resp.status,
                           field=error.get("field"))
    return payload


def _check_proposal(proposal: Any, buyer: str) -> None:
    """The typed data must say what the summary shows, and the items add up to the total."""
    from ledger.chain.contracts.eip712 import SETTLEMENT_TYPES

    try:
        typed, items = proposal["typedData"], proposal["items"]
        message = typed["message"]
        same = (
            typed["primaryType"] == "Settlement" and typed["types"] == SETTLEMENT_TYPES
            and message["buyer"] == buyer and message["usageRoot"] == proposal["usageRoot"]
            and int(message["total"]) == int(proposal["total"])
            == sum(int(i["units"]) * int(i["pricePerUnit"]) for i in items)
            and int(message["deadline"]) == proposal["deadline"]
            and [(m["assetKey"], m["version"], int(m["units"])) for m in message["items"]]
            == [(i["assetKey"], i["version"], int(i["units"])) for i in items]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"the service sent a malformed proposal: {exc}") from exc
    if not same:
        raise ValidationError(f"proposal {proposal['usageRoot']}: its typed data differs from "
                              "its items and total; not signed", field="typedData")


def _summary(proposal: dict[str, Any]) -> str:
    token = "wei" if int(proposal["token"], 16) == 0 else f"units of {proposal['token']}"
    units = sum(int(i["units"]) for i in proposal["items"])
    return (f"{proposal['usageRoot']}: {proposal['total']} {token} for {units} units of "
            f"{len(proposal['items'])} asset(s) in batch {proposal['batchNumber']}, "
            f"signable until {proposal['deadline']}")


def cmd_creator_withdraw(args: argparse.Namespace) -> int:
    """ledger creator withdraw CREATOR_ID --key K [--token T]: release what is due to K."""
    from ledger.app import payments

    key = _key(args)
    paid = _run(args, lambda chain: payments.release_all(chain, key, args.token))
    if not paid:
        print(f"nothing is due to {payments.address_of(key)}")
    for token, amount in paid.items():
        print(f"released {amount} {'wei' if token == 'ETH' else 'units of ' + token} "
              f"to {payments.address_of(key)}")
    return EXIT_OK


def cmd_creator_split(args: argparse.Namespace) -> int:
    """ledger creator split CREATOR_ID --manifest M --key K [--statement D]: register the
    manifest's splits, or those of the terms an amend statement of it put in force."""
    import asyncio

    from ledger.app import payments

    if args.manifest is None:
        raise ConfigError("split needs --manifest", field="manifest")
    from ledger.core.manifest import Manifest

    manifest = Manifest.from_json(args.manifest.read_bytes())
    if manifest.creator.id != args.creator_id:
        raise ValidationError(f"the manifest is {manifest.creator.id}'s", field="creator.id")
    key = _key(args)
    amended = None if args.statement is None else asyncio.run(_amended(args, manifest))
    _print(_run(args, lambda chain: payments.register_splits(chain, key, manifest, amended)))
    return EXIT_OK


async def _amended(args: argparse.Namespace, manifest: Manifest
                   ) -> tuple[bytes, dict[str, dict[str, Any]]]:
    """The amend statement ``--statement`` of ``manifest``, as the service stored it, and
    per asset it covers the amended terms in force from its effective time."""
    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url
    from ledger.core.signing import EthSigningKey
    from ledger.core.statements import AMEND, Statement

    digest = manifest.digest()
    owner = EthSigningKey.from_hex(_key(args))
    async with LedgerClient(service_url(args.url)) as client:
        stored = await client.stored_statement(args.statement)
        statement = Statement.from_obj(stored["statement"])
        statement.verify()
        if statement.type != AMEND or statement.effective_at is None:
            raise ValidationError(f"the statement is a {statement.type}, not an amend",
                                  field="statement")
        if statement.target.manifest_digest != digest:
            raise ValidationError("the statement amends another manifest", field="statement")
        terms = {}
        for asset in manifest.assets:
            if statement.target.covers(digest, asset.id):
                status = await client.asset_status(manifest.digest_hex(), asset.id,
                                                   statement.effective_at)
                terms[asset.id] = status["terms"]
                await _check_unsettled(client, owner, manifest.digest_hex(), asset.id,
                                       statement.effective_at)
    return statement.digest(), terms


async def _check_unsettled(client: LedgerClient, owner: SigningKey, digest: str,
                           asset_id: str, effective_at: int) -> None:
    """Refuse to register an amendment's split while usage of the asset from before its
    ``effectiveAt`` may still need the version it supersedes: the splitter charges only
    the latest version (docs/royalties.md, "When an amendment's split may be registered");
    the read is signed with the split ``owner``'s Ethereum key."""
    path = f"/v1/manifests/{digest}/assets/{asset_id}/unsettled?before={effective_at}"
    found = (await client.read_own(path, owner))[1]
    if found["ready"]:
        return
    if found["events"]:
        raise ValidationError(
            f"{found['events']} usage events ({found['units']} units) of {asset_id} from "
            f"before the amendment's effectiveAt {effective_at} are not settled yet: register "
            "the amendment's split once they are (`ledger creator statement`)",
            field="statement")
    raise ValidationError(
        f"usage of {asset_id} from before the amendment's effectiveAt may arrive until "
        f"{found['windowEndsAt']} (effectiveAt + usage_window_s); register the amendment's "
        "split after that, once it is settled", field="statement")


def _int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValidationError("must be an integer", field=name) from None
    if value < 0:
        raise ValidationError("must be 0 or more", field=name)
    return value


def _max_price(item: str) -> tuple[bytes, int]:
    asset, sep, price = item.rpartition("=")
    if not sep:
        raise ValidationError("must be ASSET=PRICE", field="max-price")
    value = ANY_PRICE if price == "any" else _int(price, "max-price")
    if asset.startswith("0x") and len(asset) == 66:
        return bytes.fromhex(asset[2:]), value
    path, sep, asset_id = asset.partition("#")
    if not sep:
        raise ValidationError("ASSET is a 0x asset key or MANIFEST.json#asset:id",
                              field="max-price")
    from ledger.core.manifest import Manifest
    from ledger.core.royalty.terms import asset_terms

    manifest = Manifest.from_json(Path(path).read_bytes())
    try:
        terms = asset_terms(manifest, manifest.digest(), asset_id)
    except LedgerError as exc:
        raise ValidationError(f"{asset}: {exc.message}", field="max-price") from exc
    return terms.asset_key, value
