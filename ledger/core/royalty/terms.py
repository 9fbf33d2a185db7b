"""What an anchored manifest says an asset costs and who is paid: units, prices,
asset keys and split terms.

Consensus-critical: `asset_key_of`/`asset_id_of` must equal the contract's
(docs/proof-format.md, "Usage receipts").

Units. Three exist, those of a manifest's ``priceModel.unit``: ``sample``,
``1k-samples`` (1,000 samples) and ``epoch``. A split's on-chain unit is its
price model's unit: ``pricePerUnit`` is ``priceModel.amount``, the price of one
such unit in the token's base units. An event may count in another unit of the
same kind (samples for an asset priced per 1k-samples, or the reverse); it is
converted exactly to the price unit or refused, never rounded (`chain_units`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.core import fields
from ledger.core.assets import Asset
from ledger.core.hashing import checksum_address, keccak256
from ledger.core.manifest import Manifest
from ledger.core.signing import address_of
from ledger.errors import ValidationError

MAX_PRICE = 2**96 - 1
"""The splitter stores prices as uint96."""

TOTAL_SHARES = 10_000
ETH_TOKEN = "0x" + "00" * 20
"""The splitter's token address for ETH."""

# Samples per unit, for the units that count samples; an epoch converts to nothing else.
_SAMPLES = {"sample": 1, "1k-samples": 1000}


@dataclass(frozen=True)
class Price:
    """What one on-chain unit of an asset costs: ``per_unit`` base units of ``token``.

    ``token`` is the ERC-20 address (EIP-55) or `ETH_TOKEN`; ``unit`` the price unit.
    """

    token: str
    per_unit: int
    unit: str


def price_of(asset: Asset, where: str = "asset") -> Price:
    """The on-chain price of a per-use asset; ValidationError if it has none.

    Needs ``priceModel`` with ``type`` "per-unit", a ``unit`` and an ``amount`` of
    1 to 2^96 - 1 base units; ``token`` "ETH" (or absent) means ETH.
    """
    model = asset.price_model
    if model is None or model.type != "per-unit":
        raise ValidationError(f"{asset.id} is not priced per use (priceModel.type per-unit)",
                              field=where)
    if model.unit is None or model.amount is None:
        raise ValidationError(f"{asset.id} has no on-chain price (priceModel.unit and amount)",
                              field=where)
    amount = int(model.amount)
    if not 1 <= amount <= MAX_PRICE:
        raise ValidationError(f"{asset.id}'s priceModel.amount must be 1 to 2^96-1",
                              field=where)
    token = ETH_TOKEN if model.token in (None, "ETH") else checksum_address(str(model.token))
    return Price(token=token, per_unit=amount, unit=model.unit)


def chain_units(units: int, unit: str | None, price_unit: str, where: str = "") -> int:
    """``units`` of ``unit`` (None: the price unit) in whole price units; never rounds.

    Samples and 1k-samples convert both ways when exact (1 1k-samples = 1,000
    samples; 2,500 samples are not a whole number of 1k-samples); an epoch
    converts to nothing else. ValidationError names ``where.units`` otherwise.
    """
    if unit is None or unit == price_unit:
        return units
    if unit not in _SAMPLES or price_unit not in _SAMPLES:
        raise ValidationError(f"the asset is priced per {price_unit}; {unit} does not convert",
                              field=fields.path(where, "unit"))
    samples = units * _SAMPLES[unit]
    whole, rest = divmod(samples, _SAMPLES[price_unit])
    if rest:
        raise ValidationError(
            f"{units} {unit} is not a whole number of {price_unit} (the asset's price unit)",
            field=fields.path(where, "units"))
    return whole


def asset_id_of(asset_id: str) -> bytes:
    """The splitter's ``bytes32 assetId`` of a manifest asset: ``keccak256(utf8(id))``."""
    return keccak256(asset_id.encode())


def asset_key_of(owner: str, asset_id: bytes) -> bytes:
    """``keccak256(abi.encode(address owner, bytes32 assetId))``, as `assetKeyOf`."""
    if not fields.ADDRESS.fullmatch(owner) or len(asset_id) != 32:
        raise ValidationError("needs a 0x address and a 32-byte asset id", field="assetKey")
    return keccak256(bytes(12) + bytes.fromhex(owner[2:]) + asset_id)



def split_owner(manifest: Manifest) -> str | None:
    """The account whose split prices a manifest's assets, or None if it has none.

    The creator's Ethereum signing key when it has one (it can sign split terms
    for the service to relay), else the creator's ``wallet`` if that is an address
    (which registers its splits itself).
    """
    owner = address_of(manifest.creator.signing_key or "")
    if owner is not None:
        return owner
    wallet = manifest.creator.wallet or ""
    if fields.ADDRESS.fullmatch(wallet):
        return checksum_address(wallet)
    return None


@dataclass(frozen=True)
class SplitTerms:
    """A split version's terms as the splitter stores them (`IRoyaltySplitter.SplitTerms`)."""

    asset_id: bytes
    manifest_digest: bytes
    token: str
    price_per_unit: int
    payees: tuple[str, ...]
    shares: tuple[int, ...]


@dataclass(frozen=True)
class AssetTerms:
    """What the service needs to meter and settle one asset of an accepted manifest."""

    creator_id: str
    manifest_digest: bytes
    asset_id: str
    owner: str
    asset_key: bytes
    price: Price
    split: SplitTerms


def asset_terms(manifest: Manifest, digest: bytes, asset_id: str, where: str = "asset"
                ) -> AssetTerms:
    """The terms of asset ``asset_id`` in ``manifest``: owner, key, price and split.

    ValidationError (field ``where.assetId`` or ``where``) when the manifest has no
    such asset, it is not priced per use, or no account can own its split. Payees
    default to the owner alone.
    """
    asset = next((a for a in manifest.assets if a.id == asset_id), None)
    if asset is None:
        raise ValidationError(f"the manifest has no asset {asset_id}",
                              field=fields.path(where, "assetId"))
    price = price_of(asset, where)
    owner = split_owner(manifest)
    if owner is None:
        raise ValidationError(
            f"{manifest.creator.id} has neither an Ethereum key nor an address wallet to be paid",
            field=where,
        )
    payees = asset.payees or ()
    accounts = tuple(checksum_address(p.account) for p in payees) or (owner,)
    shares = tuple(p.share_bps for p in payees) or (TOTAL_SHARES,)
    onchain_id = asset_id_of(asset_id)
    return AssetTerms(
        creator_id=manifest.creator.id,
        manifest_digest=digest,
        asset_id=asset_id,
        owner=owner,
        asset_key=asset_key_of(owner, onchain_id),
        price=price,
        split=SplitTerms(onchain_id, digest, price.token, price.per_unit, accounts, shares),
    )


def metered_terms(manifest: Manifest, digest: bytes) -> list[AssetTerms]:
    """The terms of every asset of ``manifest`` priced per use, in manifest order; assets
    priced otherwise are left out. ValidationError as `asset_terms` if no account can
    own their splits."""
    metered = []
    for asset in manifest.assets:
        try:
            price_of(asset)
        except ValidationError:
            continue
        metered.append(asset_terms(manifest, digest, asset.id))
    return metered


@dataclass(frozen=True)
class SplitSignature:
    """A split owner's signature of a split version, and whether it was relayed."""

    manifest_digest: bytes
    asset_id: str
    version: int
    deadline: int
    signature: bytes
    status: str
    tx_key: str | None


def amended_terms(manifest: Manifest, source: bytes, asset_id: str, terms: Mapping[str, Any]
                  ) -> AssetTerms:
    """The terms of asset ``asset_id`` of ``manifest`` once ``terms`` (the amended members
    in force, `ledger.core.licence_status.History.terms_at`) replace its own, as the split
    version naming ``source`` (the amend statement's digest) must carry them.

    The asset key and owner stay the manifest's; price, token and payees may change.
    ValidationError as `asset_terms`, or naming ``terms`` when the amended asset is not
    valid or is priced in another unit (usage is metered in the manifest's unit).
    """
    base = asset_terms(manifest, source, asset_id)
    asset = next(a for a in manifest.assets if a.id == asset_id)
    changed = Asset.from_obj({**asset.to_obj(), **terms}, "terms")
    amended = asset_terms(Manifest(manifest.manifest_version, manifest.creator, (changed,)),
                          source, asset_id, "terms")
    if amended.price.unit != base.price.unit:
        raise ValidationError(
            f"the amendment prices {asset_id} per {amended.price.unit}; its usage is metered "
            f"per {base.price.unit}", field="terms.priceModel.unit")
    return amended


def amended_metered_terms(manifest: Manifest, source: bytes,
                          terms: Mapping[str, Mapping[str, Any]]) -> list[AssetTerms]:
    """The amended terms (`amended_terms`) of each asset of ``manifest`` named in ``terms``
    (asset id -> the amended members in force from the amendment ``source``), in manifest
    order; assets priced otherwise, even amended, are left out."""
    metered = []
    for asset in manifest.assets:
        if asset.id not in terms:
            continue
        try:
            price_of(Asset.from_obj({**asset.to_obj(), **terms[asset.id]}, "terms"))
        except ValidationError:
            continue
        metered.append(amended_terms(manifest, source, asset.id, terms[asset.id]))
    return metered
