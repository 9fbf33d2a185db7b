"""``ledger verify``'s checks: what the verifier pinned, what was checked, and what it proves.

`ledger.cli.verify` registers the command and hands the document here. The trust roots come
only from the verifier (`pin_trust`): a deployment file, ``--registry``/``--chain-id``,
``--service-key``, or a service URL whose ``/v1/service`` answer is fetched once. The
output says which were pinned and from where, exactly what was proved, and what was
not checked. web3 and aiohttp are imported only on the paths that use them, so an
offline check starts fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ledger.core.hashing import to_hex
from ledger.core.times import iso_utc
from ledger.core.trust import TrustRoot, is_local_chain
from ledger.errors import ConfigError

if TYPE_CHECKING:  # the CLI's --help must not load the crypto these pull in
    from ledger.core.asset_tree import AssetProof
    from ledger.core.proof import ProofBundle
    from ledger.core.receipt import Receipt

#: Printed when --rpc-url is given without a pinned registry.

NO_PIN = ("--rpc-url checks the anchor against a registry you pin, never the one the bundle "
          "names: add --deployment FILE, --registry ADDR --chain-id N, or --service URL")


def pin_trust(args: argparse.Namespace) -> TrustRoot | None:
    """The trust roots the options pin, or None; ConfigError on a conflicting mix."""
    if args.service is not None:
        chosen = [name for name, value in (
            ("--deployment", args.deployment), ("--registry", args.registry),
            ("--chain-id", args.chain_id), ("--service-key", args.service_key),
        ) if value is not None]
        if chosen:
            raise ConfigError(f"--service pins the chain, registry and key itself; drop "
                              f"{', '.join(chosen)}")
        return _from_service(args.service)
    if (args.registry is None) != (args.chain_id is None):
        raise ConfigError("--registry and --chain-id go together")
    if args.deployment is not None and args.registry is not None:
        raise ConfigError("pin the registry once: --deployment or --registry/--chain-id")
    sources = []
    chain_id: int | None = None
    registry: str | None = None
    if args.deployment is not None:
        from ledger.chain.deploy import Deployment

        deployment = Deployment.read(args.deployment)
        chain_id, registry = deployment.chain_id, deployment.registry.address
        sources.append(f"deployment file {args.deployment}")
    elif args.registry is not None:
        pinned = TrustRoot.for_registry(args.chain_id, args.registry, "")
        chain_id, registry = pinned.chain_id, pinned.registry
        sources.append("--registry/--chain-id")
    if args.service_key is not None:
        sources.append("--service-key")
    if not sources:
        return None
    return TrustRoot("; ".join(sources), chain_id, registry, args.service_key)


def verify_receipt(receipt: Receipt, trust: TrustRoot | None) -> None:
    """Check a receipt against the pinned service key and print what it says.

    Without a pinned key the signature is still checked, but the command fails:
    anyone can sign a receipt with a key of their own, so it proves nothing.
    """
    if trust is None or trust.service_key is None:
        receipt.verify()
        raise ConfigError(
            f"the receipt's signature is valid for key {receipt.service_key}, which you did "
            "not pin: this proves nothing about who issued it; pin the service's key with "
            "--service-key KEY or --service URL"
        )
    trust.check_receipt(receipt)
    print(f"receipt ok: service key {receipt.service_key} (pinned from {trust.source}) "
          f"signed that it accepted manifest {to_hex(receipt.manifest_digest)} at "
          f"{iso_utc(receipt.accepted_at // 1000)} and will anchor it by "
          f"{iso_utc(receipt.anchor_by // 1000)}")
    print("  these times are the service's word, on its own clock; once the manifest is "
          "anchored, `ledger proof` and `ledger verify --rpc-url` prove a time from the chain")


def verify_bundle_anchor(
    bundle: ProofBundle, trust: TrustRoot | None, rpc_url: str | None,
    code_hashes: Sequence[str] = (),
) -> None:
    """Print what the (already Merkle-checked) bundle proves; with ``rpc_url``, check
    its anchor on chain against the pinned registry first."""
    if rpc_url is None:
        _offline(bundle, trust)
        return
    if trust is None or not trust.pins_anchors:
        raise ConfigError(NO_PIN)
    from ledger.chain.verify import check_bundle_on_chain

    accepted = [hash_option(value) for value in code_hashes] or None
    import asyncio

    on_chain = asyncio.run(check_bundle_on_chain(rpc_url, bundle, trust, accepted))
    when = iso_utc(on_chain.timestamp)
    print(f"proof ok: manifest {to_hex(bundle.manifest_digest)} existed no later than {when}")
    print(f"  proved: it is leaf {bundle.leaf_index} of {on_chain.leaf_count} in batch "
          f"{on_chain.batch_number}, Merkle root {to_hex(bundle.root)}, which registry "
          f"{on_chain.registry} anchored on chain {on_chain.chain_id} in block "
          f"{on_chain.block_number} ({to_hex(on_chain.block_hash)}), whose timestamp on "
          f"the chain is {when}")
    print(f"  pinned: chain {trust.chain_id} and registry {trust.registry} from "
          f"{trust.source}; its code is this release's AnchorRegistry "
          f"(code hash {to_hex(on_chain.code_hash)})")
    _notes(bundle, on_chain.chain_id)


def verify_asset_proof(
    proof: AssetProof, trust: TrustRoot | None, rpc_url: str | None,
    code_hashes: Sequence[str] = (),
) -> None:
    """Print what an (already checked) asset proof proves of its asset, then check and
    print its manifest's bundle as `verify_bundle_anchor` does."""
    header = proof.manifest
    asset = proof.asset
    print(f"asset ok: {asset['id']} ({asset['hash']}) is asset {proof.asset_index} of "
          f"{header.asset_count} in manifest {header.digest_hex()}, signed by "
          f"{header.creator.id} with key {header.creator.signing_key}")
    print(f"  proved: this entry (its licences {_licences(asset)} and every other term) is "
          "exactly what that key signed; the proof shows nothing of the other assets but "
          "their count")
    print(f"  not proved here: that {header.creator.id} holds that key (the service's "
          "creator record says how the id is verified: `ledger lookup FILE`), nor that "
          "asset ids are unique in the manifest (the service checked that on intake)")
    verify_bundle_anchor(proof.manifest_proof, trust, rpc_url, code_hashes)


def _licences(asset: dict[str, object]) -> str:
    items = asset.get("licenses")
    names = [item if isinstance(item, str) else str(item.get("id"))
             for item in items if isinstance(item, str | dict)] if isinstance(items, list) else []
    return ", ".join(names)


def print_code_hash() -> None:
    """Print the code hash of the AnchorRegistry this release ships."""
    from ledger.chain.verify import shipped_code_hash

    print(to_hex(shipped_code_hash()))


def _offline(bundle: ProofBundle, trust: TrustRoot | None) -> None:
    pin = trust if trust is not None and trust.pins_anchors else None
    if pin is not None and bundle.anchor is not None:
        pin.check_anchor(bundle)
    print(f"Merkle path ok: manifest {to_hex(bundle.manifest_digest)} is leaf "
          f"{bundle.leaf_index} of {bundle.leaf_count} under root {to_hex(bundle.root)}")
    anchor = bundle.anchor
    if anchor is None:
        print("  the bundle has no anchor yet: nothing shows when, or whether, the root "
              "was published")
        if bundle.leaf_count == 1:
            print(_ONE_LEAF)
        return
    if pin is not None:
        print(f"  the bundle names the registry and chain you pinned ({pin.source})")
    print(f"  NOT checked: the anchor. The bundle claims registry {anchor.contract} "
          f"anchored the root on chain {anchor.chain_id} in block {anchor.block_number} "
          f"at {iso_utc(anchor.block_timestamp)}; only the chain can confirm that: add "
          "--rpc-url URL and pin the registry (--deployment, --registry/--chain-id or "
          "--service)")
    _notes(bundle, anchor.chain_id)


_ONE_LEAF = ("  note: the batch had one leaf, this manifest alone: the root is its leaf "
             "hash and the proof is empty")


def _notes(bundle: ProofBundle, chain_id: int) -> None:
    if bundle.leaf_count == 1:
        print(_ONE_LEAF)
    if is_local_chain(chain_id):
        print(f"  warning: chain {chain_id} is a local test chain: whoever runs it can mine "
              "any block with any time, so this proves nothing to a third party")


def _from_service(url: str) -> TrustRoot:
    from ledger.cli.client import LedgerClient

    async def fetch() -> object:
        async with LedgerClient(url, timeout=30.0) as client:
            return await client.service()

    import asyncio

    trust = TrustRoot.from_service_json(asyncio.run(fetch()), f"service {url}")
    print(f"pinned from {url.rstrip('/')}/v1/service (fetched now: compare with what its operator "
          f"publishes): chain {trust.chain_id}, registry {trust.registry}, receipt key "
          f"{trust.service_key}")
    return trust


def hash_option(value: str, option: str = "--code-hash") -> bytes:
    """A 32-byte hash given on the command line: 0x and 64 hex digits; ConfigError
    naming `option` otherwise."""
    digits = value[2:] if value.startswith("0x") else ""
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raw = b""
    if len(raw) != 32 or len(digits) != 64:
        raise ConfigError("must be 0x and 64 hex digits", field=option)
    return raw
