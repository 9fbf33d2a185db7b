"""`ledger verify` starts from the verifier's trust roots, on a real anvil (issue 11).

The audit's attacks, each reproduced: a contract that answers any anchor time, a genuine
AnchorRegistry the attacker deployed and anchored into, a bundle whose block hash or
time lies (the forged receipt is in tests/unit/test_cli_verify.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexAddress, HexStr
from web3.types import Nonce
from web3.utils.address import get_create_address

from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.rpc import Web3Client
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import Inclusion
from ledger.chain.verify import verify_anchor_on_chain
from ledger.cli.main import main
from ledger.core.merkle import MerkleTree
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.trust import TrustRoot
from ledger.errors import ProofError
from tests.integration.chain.conftest import FAST_POLICY

pytestmark = pytest.mark.chain

JAN_2010 = 1262304000  # 2010-01-01T00:00:00Z


def digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"manifest {salt}{i}".encode()).digest() for i in range(n)]


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`ledger ARGV` in a thread (it runs its own event loop): (status, stdout, stderr)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *needles: str) -> None:
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


async def anchor_tree(
    w3: Web3Client, account: LocalAccount, registry: AnchorRegistry, batch: int, tree: MerkleTree
) -> Inclusion:
    sender = Sender(w3, account, MemoryJournal(), policy=FAST_POLICY, decoder=registry.decoder)
    sent = await sender.transact(
        f"anchor:{batch}", registry.address,
        registry.anchor_data(batch, tree.root, tree.leaf_count), timeout=30,
    )
    assert sent.inclusion is not None and sent.inclusion.succeeded
    return sent.inclusion


def bundle_of(
    tree: MerkleTree, index: int, digest: bytes, chain_id: int, contract: str, batch: int,
    inclusion: Inclusion, timestamp: int | None = None,
) -> ProofBundle:
    anchor = Anchor(
        chain_id=chain_id, contract=contract, batch_number=batch,
        tx_hash=bytes.fromhex(inclusion.tx_hash[2:]), block_number=inclusion.block_number,
        block_hash=bytes.fromhex(inclusion.block_hash[2:]),
        block_timestamp=inclusion.block_timestamp if timestamp is None else timestamp,
    )
    return ProofBundle.build(tree, index, digest, anchor)


def write(path: Path, bundle: ProofBundle) -> str:
    path.write_bytes(bundle.to_json())
    return str(path)


@pytest.fixture
async def genuine(
    w3: Web3Client, deployment: Deployment, registry: AnchorRegistry, anchorer: LocalAccount
) -> tuple[ProofBundle, MerkleTree]:
    """A 3-leaf batch anchored as batch 1 by the deployment's registry; leaf 1's bundle."""
    leaves = digests(3)
    tree = MerkleTree(leaves)
    inclusion = await anchor_tree(w3, anchorer, registry, 1, tree)
    return bundle_of(tree, 1, leaves[1], deployment.chain_id, registry.address, 1,
                     inclusion), tree


@pytest.fixture
def deployment_file(tmp_path: Path, deployment: Deployment) -> str:
    path = tmp_path / "deployment.json"
    deployment.write(path)
    return str(path)


async def test_pinned_genuine_bundle_verifies_and_says_what_it_proved(
    anvil: AnvilProcess, genuine: tuple[ProofBundle, MerkleTree], deployment_file: str,
    deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bundle, _ = genuine
    assert bundle.anchor is not None
    path = write(tmp_path / "bundle.json", bundle)
    rpc_url: str = anvil.rpc_url
    for pin in (["--deployment", deployment_file],
                ["--registry", deployment.registry.address.lower(),
                 "--chain-id", str(deployment.chain_id)]):
        code, out, err = await run(capsys, "verify", path, "--rpc-url", rpc_url, *pin)
        assert (code, err) == (0, ""), err
        assert out.startswith("proof ok: manifest 0x" + bundle.manifest_digest.hex())
        assert "leaf 1 of 3 in batch 1" in out
        assert f"in block {bundle.anchor.block_number}" in out
        assert f"registry {deployment.registry.address}" in out
        assert "warning: chain 31337 is a local test chain" in out
        assert "one leaf" not in out
    assert "deployment file" in (await run(capsys, "verify", path, "--rpc-url", rpc_url,
                                           "--deployment", deployment_file))[1]


async def test_one_leaf_batch_is_named(
    w3: Web3Client, anvil: AnvilProcess, deployment: Deployment, registry: AnchorRegistry,
    anchorer: LocalAccount, deployment_file: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (digest,) = digests(1, "alone")
    tree = MerkleTree([digest])
    inclusion = await anchor_tree(w3, anchorer, registry, 1, tree)
    bundle = bundle_of(tree, 0, digest, deployment.chain_id, registry.address, 1, inclusion)
    path = write(tmp_path / "one.json", bundle)
    code, out, _ = await run(capsys, "verify", path, "--rpc-url",
                             anvil.rpc_url, "--deployment", deployment_file)
    assert code == 0
    assert "the batch had one leaf" in out


async def test_forged_registry_claiming_2010_is_refused(
    w3: Web3Client, anvil: AnvilProcess, deployment: Deployment, deployment_file: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # The audit's attack: a ten-line contract that answers anchoredAt/verifyInclusion with
    # a 2010 time, on the same chain; the old verifier printed "anchored ... at 2010".
    attacker: LocalAccount = Account.from_key(DEV_KEYS[3])
    forged_art = load_artifact("ForgedAnchorRegistry")
    sender = Sender(w3, attacker, MemoryJournal(), policy=FAST_POLICY)
    deployed = await sender.transact("deploy", None, forged_art.bytecode, timeout=30)
    forged = str(get_create_address(HexAddress(HexStr(attacker.address)), Nonce(deployed.nonce)))
    leaves = digests(2, "forged")
    tree = MerkleTree(leaves)
    block = await w3.eth.block_number
    claim = forged_art_call(tree.root, block + 1)
    sent = await sender.transact("claim", forged, claim, timeout=30)
    assert sent.inclusion is not None and sent.inclusion.block_number == block + 1
    bundle = bundle_of(tree, 0, leaves[0], deployment.chain_id, forged, 1, sent.inclusion,
                       timestamp=JAN_2010)
    path = write(tmp_path / "forged.json", bundle)
    rpc_url: str = anvil.rpc_url

    # Pinned to the operator's deployment: the bundle names another contract.
    code, out, err = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                               "--deployment", deployment_file)
    assert (code, out) == (2, "")
    one_line_error(err, f"names registry {forged}",
                   f"pinned registry {deployment.registry.address}")
    # Even pinning the forged contract itself fails: its code is not the AnchorRegistry.
    code, out, err = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                               "--registry", forged, "--chain-id", str(deployment.chain_id))
    assert (code, out) == (2, "")
    one_line_error(err, "anchor.contract", "not that of this release's AnchorRegistry")
    # And without a pin there is no chain check at all.
    code, out, err = await run(capsys, "verify", path, "--rpc-url", rpc_url)
    assert (code, out) == (2, "")
    one_line_error(err, "--rpc-url checks the anchor against a registry you pin")
    # Offline, the 2010 claim is reported as the bundle's unchecked claim, never as proved.
    code, out, err = await run(capsys, "verify", path)
    assert (code, err) == (0, "")
    assert "NOT checked: the anchor" in out and "proof ok" not in out


def forged_art_call(root: bytes, block_number: int) -> bytes:
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector

    return function_signature_to_4byte_selector(
        "claim(bytes32,uint64,uint32,uint64,uint64)"
    ) + encode(["bytes32", "uint64", "uint32", "uint64", "uint64"],
               [root, 1, 2, block_number, JAN_2010])


async def test_forged_registry_is_refused_by_the_library_too(
    w3: Web3Client, deployment: Deployment,
) -> None:
    # The code check on its own: pin the forged contract and it still fails.
    attacker: LocalAccount = Account.from_key(DEV_KEYS[3])
    forged_art = load_artifact("ForgedAnchorRegistry")
    sender = Sender(w3, attacker, MemoryJournal(), policy=FAST_POLICY)
    deployed = await sender.transact("deploy", None, forged_art.bytecode, timeout=30)
    forged = str(get_create_address(HexAddress(HexStr(attacker.address)), Nonce(deployed.nonce)))
    leaves = digests(2, "lib")
    tree = MerkleTree(leaves)
    block = await w3.eth.block_number
    sent = await sender.transact("claim", forged, forged_art_call(tree.root, block + 1),
                                 timeout=30)
    assert sent.inclusion is not None
    bundle = bundle_of(tree, 1, leaves[1], deployment.chain_id, forged, 1, sent.inclusion,
                       timestamp=JAN_2010)
    trust = TrustRoot.for_registry(deployment.chain_id, forged, "test")
    with pytest.raises(ProofError) as caught:
        await verify_anchor_on_chain(w3, bundle, trust, load_artifact("AnchorRegistry"))
    assert caught.value.field == "anchor.contract"


async def test_attackers_own_genuine_registry_is_refused(
    w3: Web3Client, anvil: AnvilProcess, deployment: Deployment, deployment_file: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # A real AnchorRegistry, deployed and anchored into by the attacker: every chain fact
    # is true, but nothing ties it to the service the verifier trusts.
    attacker: LocalAccount = Account.from_key(DEV_KEYS[3])
    theirs = await deploy_contracts(w3, attacker.key.hex(), anchorers=[attacker.address],
                                    with_splitter=False, policy=FAST_POLICY)
    registry = theirs.registry_client(w3)
    leaves = digests(4, "attacker")
    tree = MerkleTree(leaves)
    inclusion = await anchor_tree(w3, attacker, registry, 1, tree)
    bundle = bundle_of(tree, 2, leaves[2], theirs.chain_id, registry.address, 1, inclusion)
    path = write(tmp_path / "theirs.json", bundle)
    rpc_url: str = anvil.rpc_url

    code, out, err = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                               "--deployment", deployment_file)
    assert (code, out) == (2, "")
    one_line_error(err, f"names registry {registry.address}",
                   f"pinned registry {deployment.registry.address}")
    # Pinning the attacker's registry is the verifier's own choice, and then it verifies.
    code, out, _ = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                             "--registry", registry.address, "--chain-id", str(theirs.chain_id))
    assert code == 0 and f"registry {registry.address}" in out


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ("blockTimestamp-2010", "anchor.blockTimestamp"),
        ("blockTimestamp+1", "anchor.blockTimestamp"),
        ("blockHash-bit-0", "anchor.blockHash"),
        ("blockNumber+1", "anchor.blockNumber"),
        ("batchNumber+1", "anchor"),
        ("txHash-bit-0", "anchor.txHash"),
        ("chainId-1", "anchor.chainId"),
    ],
)
async def test_a_bundle_whose_anchor_lies_is_refused(
    w3: Web3Client, genuine: tuple[ProofBundle, MerkleTree], deployment: Deployment,
    mutation: str, field: str,
) -> None:
    bundle, _ = genuine
    anchor = bundle.anchor
    assert anchor is not None
    flip = {"blockHash-bit-0": "block_hash", "txHash-bit-0": "tx_hash"}
    changes: dict[str, object] = {
        "blockTimestamp-2010": {"block_timestamp": JAN_2010},
        "blockTimestamp+1": {"block_timestamp": anchor.block_timestamp + 1},
        "blockNumber+1": {"block_number": anchor.block_number + 1},
        "batchNumber+1": {"batch_number": anchor.batch_number + 1},
        "chainId-1": {"chain_id": 1},
    }.get(mutation, {})
    if mutation in flip:
        name = flip[mutation]
        value = getattr(anchor, name)
        changes = {name: bytes([value[0] ^ 1]) + value[1:]}
    lying = replace(bundle, anchor=replace(anchor, **changes))
    trust = TrustRoot.for_registry(deployment.chain_id, deployment.registry.address, "test")
    with pytest.raises(ProofError) as caught:
        await verify_anchor_on_chain(w3, lying, trust, load_artifact("AnchorRegistry"))
    assert caught.value.field == field, caught.value


async def test_the_time_reported_is_the_chains(
    w3: Web3Client, genuine: tuple[ProofBundle, MerkleTree], deployment: Deployment,
) -> None:
    bundle, _ = genuine
    assert bundle.anchor is not None
    trust = TrustRoot.for_registry(deployment.chain_id, deployment.registry.address, "test")
    confirmed = await verify_anchor_on_chain(w3, bundle, trust, load_artifact("AnchorRegistry"))
    block = await w3.eth.get_block(bundle.anchor.block_number)
    assert confirmed.timestamp == block["timestamp"]
    assert confirmed.block_hash == bytes(block["hash"] or b"")
    assert (confirmed.leaf_count, confirmed.batch_number) == (3, 1)
    code = bytes(await w3.eth.get_code(deployment.registry.address))
    assert confirmed.code_hash == load_artifact("AnchorRegistry").code_hash()
    assert len(code) == len(load_artifact("AnchorRegistry").deployed_bytecode)


async def test_registry_from_another_build_needs_its_code_hash_pinned(
    w3: Web3Client, anvil: AnvilProcess, genuine: tuple[ProofBundle, MerkleTree],
    deployment_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    # A registry whose code differs from this release's (say an older release's) fails
    # unless the verifier pins that code's hash itself.
    bundle, _ = genuine
    path = write(tmp_path / "bundle.json", bundle)
    rpc_url: str = anvil.rpc_url
    other = "0x" + "ab" * 32
    code, _, err = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                             "--deployment", deployment_file, "--code-hash", other)
    assert code == 2
    one_line_error(err, "anchor.contract")
    shipped = "0x" + load_artifact("AnchorRegistry").code_hash().hex()
    code, out, _ = await run(capsys, "verify", path, "--rpc-url", rpc_url,
                             "--deployment", deployment_file, "--code-hash", other,
                             "--code-hash", shipped)
    assert code == 0, out
    code, out, _ = await run(capsys, "verify", "--print-code-hash")
    assert (code, out) == (0, shipped + "\n")


# -- the independent recipes of docs/proof-format.md section 5 pin too ------------------

ROOT = Path(__file__).parents[3]


def js_recipe(tmp_path: Path) -> Path:
    """The `verify.mjs` of docs/proof-format.md, beside a link to the repo's node_modules."""
    doc = (ROOT / "docs" / "proof-format.md").read_text()
    start = doc.index("```js\n// verify.mjs") + len("```js\n")
    script = tmp_path / "verify.mjs"
    script.write_text(doc[start:doc.index("```", start)])
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    return script


def run_js(script: Path, bundle: Path, rpc_url: str, registry: str) -> tuple[int, str]:
    env = {**os.environ, "RPC_URL": rpc_url, "CHAIN_ID": "31337", "REGISTRY": registry,
           "CODE_HASH": "0x" + load_artifact("AnchorRegistry").code_hash().hex()}
    done = subprocess.run([shutil.which("node") or "node", str(script), str(bundle)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout


@pytest.mark.node
async def test_js_recipe_pins_the_registry(
    w3: Web3Client, anvil: AnvilProcess, genuine: tuple[ProofBundle, MerkleTree],
    deployment: Deployment, tmp_path: Path,
) -> None:
    script = js_recipe(tmp_path)
    bundle, _ = genuine
    assert bundle.anchor is not None
    good = Path(write(tmp_path / "good.json", bundle))
    ours = deployment.registry.address
    code, out = await asyncio.to_thread(run_js, script, good, anvil.rpc_url, ours)
    assert (code, out.split(":")[0]) == (0, "verified"), out
    lies = {
        "time": replace(bundle.anchor, block_timestamp=JAN_2010),
        "contract": replace(bundle.anchor, contract=str(Account.from_key(DEV_KEYS[3]).address)),
    }
    for name, anchor in lies.items():
        path = Path(write(tmp_path / f"{name}.json", replace(bundle, anchor=anchor)))
        code, out = await asyncio.to_thread(run_js, script, path, anvil.rpc_url, ours)
        assert code == 1 and out.startswith("NOT verified"), (name, out)
    # Pinning an address whose code is not the release's AnchorRegistry fails too.
    attacker = str(Account.from_key(DEV_KEYS[3]).address)
    contract_lie = Path(tmp_path / "contract.json")
    code, out = await asyncio.to_thread(run_js, script, contract_lie, anvil.rpc_url, attacker)
    assert code == 1 and "not this release's AnchorRegistry" in out, out


def test_cast_recipe_code_hash_is_ledgers(anvil: AnvilProcess, deployment: Deployment) -> None:
    # `cast keccak $(cast code $REGISTRY)` must print what `ledger verify --print-code-hash` does.
    cast = ROOT / "node_modules" / ".bin" / "cast"
    code = subprocess.run([str(cast), "code", deployment.registry.address, "--rpc-url",
                           anvil.rpc_url], capture_output=True, text=True, check=True).stdout
    hashed = subprocess.run([str(cast), "keccak", code.strip()], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert hashed == "0x" + load_artifact("AnchorRegistry").code_hash().hex()
