"""Deploying the contracts and the deployment record the service starts from.

`deploy_contracts` deploys AnchorRegistry (and RoyaltySplitter once forge has built
it), grants the roles, and returns a `Deployment`: chain id, addresses, the block of
the first deployment and its hash (so a reset chain, e.g. an anvil restarted without
its state, is detected), and the ABI hashes the addresses were deployed with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_typing import HexAddress, HexStr
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.exceptions import Web3RPCError
from web3.types import Nonce
from web3.utils.address import get_create_address

from ledger.chain.contracts.artifacts import Artifact, has_artifact, load_artifact
from ledger.chain.contracts.binding import ContractBinding
from ledger.chain.contracts.registry import ANCHORER_ROLE, DEFAULT_ADMIN_ROLE, AnchorRegistry
from ledger.chain.rpc import TRANSIENT_ERRORS, ChainUnavailableError, RevertDecoder, Web3Client
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy, SentTx
from ledger.errors import ChainError, ConfigError
from ledger.files import replace_file

DEPLOYMENT_VERSION = "ledger-deployment/1"
REGISTRY = "AnchorRegistry"
METER_ROLE = keccak(text="METER_ROLE")
SPLITTER = "RoyaltySplitter"

# How RoyaltySplitter's constructor inputs are filled, by parameter name (leading and
# trailing underscores ignored). Adjust here when its constructor changes; an unknown
# name stops the deployment with a message naming it.
_SPLITTER_ARGS = {
    "admin": "admin", "initialAdmin": "admin", "defaultAdmin": "admin",
    "registry": "registry", "anchorRegistry": "registry",
    "noticePeriod": "notice_period",
}
DEFAULT_NOTICE_PERIOD = 7 * 24 * 3600  # seconds a buyer waits to withdraw a deposit


@dataclass(frozen=True)
class DeployedContract:
    """One deployed contract: where, by which transaction, with which ABI."""

    name: str
    address: str
    tx_hash: str
    block_number: int
    abi_hash: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_json` inverts it)."""
        return {"name": self.name, "address": self.address, "txHash": self.tx_hash,
                "blockNumber": self.block_number, "abiHash": self.abi_hash}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], field: str) -> DeployedContract:
        """Parse `to_json` output; ConfigError naming ``field.member`` on a problem."""
        return cls(
            name=_str(doc, "name", field),
            address=_address(doc, "address", field),
            tx_hash=_hex32(doc, "txHash", field),
            block_number=_uint(doc, "blockNumber", field),
            abi_hash=_hex32(doc, "abiHash", field),
        )


@dataclass(frozen=True)
class Deployment:
    """The deployment record: what the service needs to find and trust its contracts.

    ``admin`` holds the registry's DEFAULT_ADMIN_ROLE now; ``pending_admin`` is the
    account a two-step transfer of it was started to (it must accept after the
    registry's ADMIN_DELAY), or None. The splitter (plain AccessControl) is handed to
    ``pending_admin`` at once.
    """

    chain_id: int
    registry: DeployedContract
    splitter: DeployedContract | None
    deploy_block: int
    block_hash: str
    deployer: str
    admin: str
    pending_admin: str | None
    anchorers: tuple[str, ...]
    meters: tuple[str, ...]

    @property
    def key_scope(self) -> str:
        """What names this deployment in its transactions' purpose keys (`TxKey`): 16 hex
        digits of its first block's hash, so a redeployment never reuses a key."""
        return self.block_hash[2:18]

    def to_json(self) -> dict[str, Any]:
        """The record as the JSON object written to the deployment file."""
        return {
            "version": DEPLOYMENT_VERSION,
            "chainId": self.chain_id,
            "registry": self.registry.to_json(),
            "splitter": self.splitter.to_json() if self.splitter else None,
            "deployBlock": self.deploy_block,
            "blockHash": self.block_hash,
            "deployer": self.deployer,
            "admin": self.admin,
            "pendingAdmin": self.pending_admin,
            "anchorers": list(self.anchorers),
            "meters": list(self.meters),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Deployment:
        """Parse a deployment record; ConfigError naming the member on any problem."""
        if not isinstance(doc, Mapping):
            raise ConfigError("a deployment record must be a JSON object")
        unknown = set(doc) - set(_MEMBERS)
        if unknown:
            raise ConfigError("unknown member", field=sorted(unknown)[0])
        if doc.get("version") != DEPLOYMENT_VERSION:
            raise ConfigError(f"must be {DEPLOYMENT_VERSION!r}", field="version")
        splitter = doc.get("splitter")
        pending = doc.get("pendingAdmin")
        return cls(
            chain_id=_uint(doc, "chainId", ""),
            registry=DeployedContract.from_json(_object(doc, "registry"), "registry"),
            splitter=(DeployedContract.from_json(_object(doc, "splitter"), "splitter")
                      if splitter is not None else None),
            deploy_block=_uint(doc, "deployBlock", ""),
            block_hash=_hex32(doc, "blockHash", ""),
            deployer=_address(doc, "deployer", ""),
            admin=_address(doc, "admin", ""),
            pending_admin=_address(doc, "pendingAdmin", "") if pending is not None else None,
            anchorers=_addresses(doc, "anchorers"),
            meters=_addresses(doc, "meters"),
        )

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the record as pretty JSON (atomically: temp file, then rename)."""
        target = Path(path)
        replace_file(target, (json.dumps(self.to_json(), indent=2) + "\n").encode())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Deployment:
        """Read a record written by `write`; ConfigError if missing or malformed."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"deployment record {path} does not exist: deploy first") from exc
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read deployment record {path}: {exc}") from exc
        return cls.from_json(doc)

    async def check(self, w3: Web3Client) -> None:
        """Check the node serves this deployment: same chain id, the deployment block
        still canonical, and code at every address. ChainError says what differs."""
        try:
            chain_id = await w3.eth.chain_id
            block = await w3.eth.get_block(self.deploy_block)
            codes = [await w3.eth.get_code(AsyncWeb3.to_checksum_address(c.address))
                     for c in self.contracts()]
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except Web3RPCError as exc:
            raise ChainError(f"the chain has no block {self.deploy_block} of the deployment: "
                             "it was reset; deploy again") from exc
        if chain_id != self.chain_id:
            raise ChainError(f"the node is chain {chain_id}, the deployment chain {self.chain_id}")
        if "0x" + bytes(block["hash"]).hex() != self.block_hash:
            raise ChainError(f"block {self.deploy_block} differs from the deployment's: "
                             "the chain was reset or reorganised; deploy again")
        for contract, code in zip(self.contracts(), codes, strict=True):
            if not code:
                raise ChainError(f"no code at {contract.name} address {contract.address}")

    def registry_client(
        self, w3: Web3Client, artifacts_out: str | os.PathLike[str] | None = None
    ) -> AnchorRegistry:
        """A client of this deployment's registry (ABI from forge's build)."""
        return AnchorRegistry(w3, self.registry.address, load_artifact(REGISTRY, artifacts_out))

    def check_abi(self, artifacts_out: str | os.PathLike[str] | None = None) -> None:
        """Check forge's current build has the ABIs the contracts were deployed with;
        ChainError naming the contract when one changed (rebuild or redeploy)."""
        for contract in self.contracts():
            built = load_artifact(contract.name, artifacts_out).abi_hash
            if built != contract.abi_hash:
                raise ChainError(
                    f"{contract.name} at {contract.address} was deployed with ABI "
                    f"{contract.abi_hash}, but forge's build has ABI {built}: redeploy"
                )

    def contracts(self) -> list[DeployedContract]:
        """The deployed contracts, registry first."""
        return [self.registry] + ([self.splitter] if self.splitter else [])


_MEMBERS = ("version", "chainId", "registry", "splitter", "deployBlock", "blockHash",
            "deployer", "admin", "pendingAdmin", "anchorers", "meters")


async def deploy_contracts(
    w3: Web3Client,
    deployer_key: str,
    *,
    anchorers: Sequence[str],
    meters: Sequence[str] = (),
    admin: str | None = None,
    artifacts_out: str | os.PathLike[str] | None = None,
    with_splitter: bool | None = None,
    notice_period: int = DEFAULT_NOTICE_PERIOD,
    policy: SendPolicy | None = None,
    timeout: float = 120.0,
) -> Deployment:
    """Deploy AnchorRegistry (and RoyaltySplitter), grant roles, return the record.

    The deployer is the initial admin so it can grant ANCHORER_ROLE to ``anchorers``
    (and the splitter's METER_ROLE to ``meters``); if ``admin`` is another account, the
    registry's two-step admin transfer to it is started (it accepts after
    ADMIN_DELAY) and the splitter's admin role is granted to it and renounced.
    ``with_splitter`` None deploys the splitter when its artifact exists, with
    ``notice_period`` (seconds before a buyer's withdrawal).
    Transactions go through a private `Sender` with an in-memory journal, each
    waited for to ``policy.confirmations``.
    """
    account = Account.from_key(deployer_key)
    registry_art = load_artifact(REGISTRY, artifacts_out)
    if with_splitter is None:
        with_splitter = has_artifact(SPLITTER, artifacts_out)
    splitter_art = load_artifact(SPLITTER, artifacts_out) if with_splitter else None
    decoder = RevertDecoder([a.abi for a in (registry_art, splitter_art) if a])
    sender = Sender(w3, account, MemoryJournal(), policy=policy, decoder=decoder)
    me = str(account.address)
    new_admin = AsyncWeb3.to_checksum_address(admin) if admin else me

    registry_abi = ContractBinding(REGISTRY, registry_art.abi)
    registry = await _deploy_registry(sender, registry_art, registry_abi, anchorers, timeout)
    splitter = None
    if splitter_art is not None:
        values = {"admin": me, "registry": registry.address, "notice_period": notice_period}
        splitter = await _deploy_splitter(sender, splitter_art, values, meters, timeout)
    pending = None
    if new_admin != me:
        await sender.transact("admin:registry", registry.address,
                              registry_abi.encode_call("beginDefaultAdminTransfer", new_admin),
                              timeout=timeout)
        if splitter is not None and splitter_art is not None:
            await _hand_over_splitter(sender, ContractBinding(SPLITTER, splitter_art.abi),
                                      splitter.address, me, new_admin, timeout)
        pending = new_admin
    block = await w3.eth.get_block(registry.block_number)
    return Deployment(
        chain_id=await w3.eth.chain_id,
        registry=registry,
        splitter=splitter,
        deploy_block=registry.block_number,
        block_hash="0x" + bytes(block["hash"]).hex(),
        deployer=me,
        admin=me,
        pending_admin=pending,
        anchorers=tuple(AsyncWeb3.to_checksum_address(a) for a in anchorers),
        meters=tuple(AsyncWeb3.to_checksum_address(m) for m in meters) if splitter else (),
    )


async def _deploy_registry(
    sender: Sender, art: Artifact, binding: ContractBinding, anchorers: Sequence[str],
    timeout: float,
) -> DeployedContract:
    tx = await sender.transact("deploy:registry", None,
                               art.bytecode + binding.encode_constructor(sender.address),
                               timeout=timeout)
    registry = _deployed(art, tx)
    for account in anchorers:
        await sender.transact(f"grant:anchorer:{account}", registry.address,
                              _grant_role(binding, ANCHORER_ROLE, account), timeout=timeout)
    return registry


async def _deploy_splitter(
    sender: Sender, art: Artifact, values: Mapping[str, object], meters: Sequence[str],
    timeout: float,
) -> DeployedContract:
    binding = ContractBinding(SPLITTER, art.abi)
    args: list[object] = []
    for arg in binding.constructor_inputs():
        source = _SPLITTER_ARGS.get(str(arg.get("name", "")).strip("_"))
        if source is None:
            raise ChainError(f"{SPLITTER} constructor takes {arg.get('name')!r}, which "
                             "ledger.chain.deploy does not know how to fill")
        args.append(values[source])
    tx = await sender.transact("deploy:splitter", None,
                               art.bytecode + binding.encode_constructor(*args), timeout=timeout)
    splitter = _deployed(art, tx)
    for meter in meters:
        await sender.transact(f"grant:meter:{meter}", splitter.address,
                              _grant_role(binding, METER_ROLE, meter), timeout=timeout)
    return splitter


async def _hand_over_splitter(
    sender: Sender, binding: ContractBinding, address: str, me: str, new_admin: str,
    timeout: float,
) -> None:
    await sender.transact("admin:splitter:grant", address,
                          _grant_role(binding, DEFAULT_ADMIN_ROLE, new_admin), timeout=timeout)
    await sender.transact("admin:splitter:renounce", address,
                          binding.encode_call("renounceRole", DEFAULT_ADMIN_ROLE, me),
                          timeout=timeout)


def _grant_role(binding: ContractBinding, role: bytes, account: str) -> bytes:
    return binding.encode_call("grantRole", role, AsyncWeb3.to_checksum_address(account))


def _deployed(art: Artifact, tx: SentTx) -> DeployedContract:
    assert tx.inclusion is not None
    return DeployedContract(
        name=art.name,
        address=str(get_create_address(HexAddress(HexStr(tx.sender)), Nonce(tx.nonce))),
        tx_hash=tx.inclusion.tx_hash,
        block_number=tx.inclusion.block_number,
        abi_hash=art.abi_hash,
    )


def _object(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if not isinstance(value, Mapping):
        raise ConfigError("must be an object", field=name)
    return value


def _path(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def _str(doc: Mapping[str, Any], name: str, field: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a non-empty string", field=_path(field, name))
    return value


def _uint(doc: Mapping[str, Any], name: str, field: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError("must be a non-negative integer", field=_path(field, name))
    return value


def _hex32(doc: Mapping[str, Any], name: str, field: str) -> str:
    value = doc.get(name)
    if not (isinstance(value, str) and len(value) == 66 and _is_hex(value)):
        raise ConfigError("must be 0x and 64 hex digits", field=_path(field, name))
    return value.lower()


def _address(doc: Mapping[str, Any], name: str, field: str) -> str:
    return _address_value(doc.get(name), _path(field, name))


def _address_value(value: object, field: str) -> str:
    if not (isinstance(value, str) and len(value) == 42 and _is_hex(value)):
        raise ConfigError("must be a 0x address", field=field)
    return str(AsyncWeb3.to_checksum_address(value))


def _addresses(doc: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise ConfigError("must be a list of addresses", field=name)
    return tuple(_address_value(v, f"{name}[{i}]") for i, v in enumerate(value))


def _is_hex(value: str) -> bool:
    if not value.startswith("0x"):
        return False
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        return False
    return True
