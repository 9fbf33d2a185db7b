"""The trust roots a verifier pins, and the checks that need nothing but them.

A proof bundle and an intake receipt each name who vouches for them: the bundle its
chain and registry, the receipt its service key. Anyone can write those members, so a
verifier must never take them from the evidence: it chooses a `TrustRoot` itself (from
a deployment file, the command line, or a service's ``/v1/service`` answer fetched
once) and checks that the evidence names exactly that. docs/security.md, section 2,
says why each pin matters; the chain side of the check is ``ledger.chain.verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.core.fields import ADDRESS, checksummed
from ledger.core.proof import Anchor, ProofBundle
from ledger.errors import ConfigError, ProofError, SignatureError

if TYPE_CHECKING:  # a pinned bundle is checked without loading the signature schemes
    from ledger.core.receipt import Receipt

#: Chain ids of local development chains (anvil, hardhat, ganache): whoever runs one
#: can mine any block with any timestamp, so an anchor there proves nothing to anyone else.
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


@dataclass(frozen=True)
class TrustRoot:
    """What a verifier chose to trust, and where it took it from.

    ``chain_id`` and ``registry`` (EIP-55) pin anchors: a bundle must name exactly
    these. ``service_key`` pins intake receipts. ``source`` says where the pins came
    from (``deployment.json``, ``--registry/--chain-id``, a service URL), for output.
    """

    source: str
    chain_id: int | None = None
    registry: str | None = None
    service_key: str | None = None

    @classmethod
    def for_registry(
        cls, chain_id: object, registry: object, source: str, service_key: str | None = None
    ) -> TrustRoot:
        """A pin of one registry on one chain; ConfigError on a malformed value."""
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
            raise ConfigError("must be a positive integer", field="chainId")
        return cls(source, chain_id, parse_address(registry, "registry"), service_key)

    @classmethod
    def from_service_json(cls, obj: Any, source: str) -> TrustRoot:
        """The pins a ``GET /v1/service`` answer publishes: chainId, registry, receiptKey."""
        if not isinstance(obj, Mapping):
            raise ConfigError(f"{source}: /v1/service did not answer a JSON object")
        key = obj.get("receiptKey")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{source}: /v1/service gave no receiptKey", field="receiptKey")
        return cls.for_registry(obj.get("chainId"), obj.get("registry"), source, key)

    @property
    def pins_anchors(self) -> bool:
        """True when a chain and a registry are pinned."""
        return self.chain_id is not None and self.registry is not None

    def check_anchor(self, bundle: ProofBundle) -> Anchor:
        """The bundle's anchor, if it names the pinned chain and registry; else
        ProofError naming both the bundle's and the pinned values."""
        anchor = bundle.anchor
        if anchor is None:
            raise ProofError("the bundle has no anchor to check", field="anchor")
        if not self.pins_anchors:
            raise ConfigError(f"{self.source} pins no chain and registry")
        if (anchor.chain_id, anchor.contract) != (self.chain_id, self.registry):
            raise ProofError(
                f"the bundle names registry {anchor.contract} on chain {anchor.chain_id}, "
                f"but you pinned registry {self.registry} on chain {self.chain_id} "
                f"({self.source})",
                field="anchor.chainId" if anchor.chain_id != self.chain_id else "anchor.contract",
            )
        return anchor

    def check_receipt(self, receipt: Receipt) -> None:
        """Verify ``receipt`` against the pinned service key: SignatureError when it
        names another key or its signature does not verify."""
        if self.service_key is None:
            raise ConfigError(f"{self.source} pins no service key")
        if receipt.service_key != self.service_key:
            raise SignatureError(
                f"the receipt is signed by {receipt.service_key}, but you pinned service "
                f"key {self.service_key} ({self.source})",
                field="serviceKey",
            )
        receipt.verify(self.service_key)


def is_local_chain(chain_id: int) -> bool:
    """True for a local development chain id (`LOCAL_CHAIN_IDS`)."""
    return chain_id in LOCAL_CHAIN_IDS


def parse_address(value: object, field: str) -> str:
    """``0x`` + 40 hex digits in EIP-55 form; ConfigError naming ``field`` otherwise.

    Mixed case must be a valid checksum: a typo in a pinned address must not pass.
    """
    if not isinstance(value, str) or not ADDRESS.fullmatch(value):
        raise ConfigError("must be 0x and 40 hex digits", field=field)
    spelled = checksummed(value)
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and value != spelled:
        raise ConfigError("has a wrong EIP-55 checksum", field=field)
    return spelled
