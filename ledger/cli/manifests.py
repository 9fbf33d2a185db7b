"""Commands on a creator's own files, offline: ``keygen``, ``package``, ``sign``,
``verify-manifest`` and ``digest``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ledger.cli.common import EXIT_OK, Commands
from ledger.cli.package_metadata import add_metadata_options, with_metadata
from ledger.core.canonical import parse_strict
from ledger.core.vocabulary import PRICE_TYPES, PRICE_UNITS
from ledger.errors import ValidationError
from ledger.files import replace_file

if TYPE_CHECKING:  # building the parser imports no hashing machinery nor crypto
    from ledger.app.file_hashes import HashProgress, ProgressFn
    from ledger.app.packager import PackageSpec
    from ledger.core.signing import SigningKey

# ledger.keyfile.KEY_TYPES, repeated so that building the parser imports no crypto
# (a unit test keeps the two equal).
KEY_TYPES = ("p256", "eth")


def add_manifest_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register keygen, package, sign, verify-manifest and digest."""
    for add in (_add_keygen, _add_package, _add_sign, _add_verify_manifest, _add_digest):
        add(commands)


# -- keygen ---------------------------------------------------------------------


def _add_keygen(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("keygen", help="create a signing key file (mode 0600)")
    command.add_argument(
        "--type", choices=KEY_TYPES, default="p256", help="key type (default p256)"
    )
    command.add_argument("-o", "--output", required=True, type=Path, help="key file to create")
    command.set_defaults(handler=cmd_keygen)


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create a key file; print the public signingKey."""
    from ledger.keyfile import generate_key, write_key

    key = generate_key(args.type)
    write_key(args.output, key)
    print(key.public_id)
    return EXIT_OK


# -- package ----------------------------------------------------------------------


def _add_package(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "package", help="write a manifest for a folder of files",
        description="One asset per regular file of the folder (hidden ones skipped). "
        "Symbolic links, special files and two files whose names differ only in case "
        "(asset ids are lower-case) are refused, named (docs/manifest.md).",
    )
    command.add_argument("directory", type=Path, help="folder of assets")
    command.add_argument("--creator", required=True, help="creator id, e.g. creator:alice")
    command.add_argument(
        "--license", action="append", required=True, dest="licenses", help="license id (repeatable)"
    )
    command.add_argument("--key", type=Path, help="sign with this key file (else write a draft)")
    command.add_argument(
        "-o", "--output", type=Path, help="manifest file (default DIR/manifest.json)"
    )
    command.add_argument("--wallet", help="payout wallet: 0x address or provider:account")
    command.add_argument("--payout", help="payout account, e.g. stripe:acct_123")
    command.add_argument("--name", help="creator display name")
    command.add_argument("--url-base", help="https:// or r2:// prefix of the asset URLs")
    command.add_argument(
        "--tag", action="append", dest="tags", help="tag for every asset (repeatable)"
    )
    command.add_argument("--attribution", help="attribution text for every asset")
    command.add_argument("--created-at", help="createdAt, YYYY-MM-DDTHH:MM:SSZ")
    command.add_argument(
        "--manifest-version", choices=("1.0", "1.1", "1.2"), default="1.0",
        help="1.0 (default): the assets inside manifest.json (up to 100,000); 1.1: a signed "
        "header in manifest.json and one entry per line in assets.jsonl beside it (up to "
        "16,777,216 files, hashing resumable: docs/manifest.md); 1.2: 1.1 with licences "
        "declaring --revocation-notice",
    )
    command.add_argument(
        "--revocation-notice", type=int, metavar="DAYS",
        help="days of notice a revocation of these licences must give (needs "
        "--manifest-version 1.2; without it a revocation gives 30 days: docs/lifecycle.md)",
    )
    command.add_argument("--workers", type=int,
                         help="files hashed at once (default: the number of CPUs)")
    price = command.add_argument_group("price model (all assets)")
    price.add_argument("--price-type", choices=PRICE_TYPES, help="default per-unit")
    price.add_argument("--rate", type=_number, help="price rate (>= 0)")
    price.add_argument("--currency", help="currency code, e.g. USD or ETH")
    price.add_argument("--min-payout", type=_number, help="minimum payout")
    price.add_argument("--unit", choices=PRICE_UNITS, help="what one unit of use is")
    price.add_argument("--price-amount", help="price per unit in base units (wei)")
    price.add_argument("--token", help='"ETH" or an ERC-20 token address')
    command.add_argument(
        "--payee", action="append", dest="payees", metavar="ADDR:BPS:ROLE", help="royalty payee"
    )
    add_consent_options(command.add_argument_group("consent and privacy (all assets)"))
    add_metadata_options(command)
    command.set_defaults(handler=cmd_package)


def cmd_package(args: argparse.Namespace) -> int:
    """Hash a folder into a manifest (1.0, or 1.1 with assets.jsonl); sign it when --key
    is given."""
    from ledger.app.packager import PackageSpec, parse_payee
    from ledger.core.signing import address_of
    from ledger.keyfile import load_key

    output: Path = args.output or (args.embed or args.directory) / "manifest.json"
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ValidationError("must be from 1 to 256", field="--workers")
    key = load_key(args.key) if args.key else None
    wallet = args.wallet
    if wallet is None and args.payout is None and key is not None:
        wallet = address_of(key.public_id)
    if wallet is None and args.payout is None:
        raise ValidationError("give --wallet or --payout (where the creator is paid)")
    spec = PackageSpec(
        args.creator,
        _licences(args),
        signing_key=key.public_id if key else None,
        wallet=wallet,
        payout=args.payout,
        creator_name=args.name,
        price_model=_price_model(args),
        payees=[parse_payee(text) for text in args.payees or ()],
        consent=consent_of(args),
        privacy=privacy_of(args),
        tags=args.tags,
        attribution=args.attribution,
        url_base=args.url_base,
        created_at=args.created_at,
    )
    spec, folder, known = with_metadata(args, spec, _package_files(output))
    progress = hash_progress(sys.stderr) if sys.stderr.isatty() else None
    if args.manifest_version in ("1.1", "1.2"):
        return _package_library(args, spec, folder, output, key, progress, known)
    from ledger.app.packager import package_dir

    manifest = package_dir(folder, spec, exclude=[output], progress=progress,
                           workers=args.workers, known=known)
    _write_signed(output, manifest, key, f"{len(manifest['assets'])} assets")
    size = output.stat().st_size
    if size > _DEFAULT_BODY_LIMIT:
        print(f"note: {output} is {size / 2**20:.1f} MiB, over the 8 MiB a service takes in one "
              "request by default; package it with --manifest-version 1.1, which ledger submit "
              "sends in chunks", file=sys.stderr)
    return EXIT_OK


def _licences(args: argparse.Namespace) -> list[str | dict[str, Any]]:
    """The licences as given, each declaring the revocation notice when one is given."""
    days = args.revocation_notice
    if (days is not None) != (args.manifest_version == "1.2"):
        raise ValidationError("--revocation-notice and --manifest-version 1.2 go together",
                              field="--revocation-notice")
    if days is None:
        return list(args.licenses)
    if not 0 <= days <= 3650:
        raise ValidationError("must be from 0 to 3650 days", field="--revocation-notice")
    return [{"id": licence, "revocationNotice": days * 86_400} for licence in args.licenses]


# `max_body_bytes`' default (ledger.config), not imported: the CLI starts without it.
_DEFAULT_BODY_LIMIT = 8 * 1024 * 1024


def _package_files(output: Path) -> list[Path]:
    """What packaging writes beside the manifest, which is not an asset."""
    from ledger.app.file_hashes import CACHE_NAME
    from ledger.app.packager import ASSETS_FILE

    folder = output.parent if str(output.parent) else Path(".")
    return [output, folder / ASSETS_FILE, folder / CACHE_NAME]


def _package_library(
    args: argparse.Namespace, spec: PackageSpec, directory: Path, output: Path,
    key: SigningKey | None, progress: ProgressFn | None, known: dict[bytes, bytes],
) -> int:
    from ledger.app.file_hashes import CACHE_NAME
    from ledger.app.packager import ASSETS_FILE, package_library

    folder = output.parent if str(output.parent) else Path(".")
    assets = folder / ASSETS_FILE
    header = package_library(directory, spec, assets, cache_file=folder / CACHE_NAME,
                             exclude=[output], progress=progress, workers=args.workers,
                             known=known)
    _write_signed(output, header, key, f"{header['assetCount']} assets in {assets}")
    return EXIT_OK


def _write_signed(
    output: Path, manifest: dict[str, Any], key: SigningKey | None, what: str
) -> None:
    """Write the draft, or sign and write it; print what was written."""
    from ledger.core.manifest import parse_manifest
    from ledger.core.signing import sign_manifest

    if key is None:
        _write_json(output, manifest)
        print(f"wrote unsigned {output} ({what}); sign it with: ledger sign")
        return
    signed = sign_manifest(manifest, key)
    _write_json(output, signed)
    print(f"{parse_manifest(signed).digest_hex()}  {output} ({what})")


def _price_model(args: argparse.Namespace) -> dict[str, Any] | None:
    given = {
        "type": args.price_type,
        "rate": args.rate,
        "currency": args.currency,
        "minPayout": args.min_payout,
        "unit": args.unit,
        "amount": args.price_amount,
        "token": args.token,
    }
    if all(value is None for value in given.values()):
        return None
    if args.rate is None or args.currency is None:
        raise ValidationError("a price model needs --rate and --currency")
    given["type"] = args.price_type or "per-unit"
    return {name: value for name, value in given.items() if value is not None}


def add_consent_options(group: argparse._ArgumentGroup) -> None:
    """The consent and privacy options, read by `consent_of` and `privacy_of`."""
    group.add_argument("--model-release", help="URL or reference of the model release")
    group.add_argument("--property-release", help="URL or reference of the property release")
    group.add_argument("--pii-redacted", action="store_true", help="PII was redacted")
    for flag in ("faces", "minors", "biometric", "pii"):
        group.add_argument(f"--{flag}", action="store_true", help=f"assets show {flag}")


def consent_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``consent`` object the options give, or None."""
    consent: dict[str, Any] = {}
    if args.model_release:
        consent["modelRelease"] = args.model_release
    if args.property_release:
        consent["propertyRelease"] = args.property_release
    if args.pii_redacted:
        consent["piiRedacted"] = True
    return consent or None


def privacy_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``privacy`` flags the options give, or None."""
    flags = {name: True for name in ("faces", "minors", "biometric", "pii") if getattr(args, name)}
    return flags or None


def _number(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


# -- sign, verify-manifest, digest ------------------------------------------------


def _add_sign(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("sign", help="sign a manifest")
    command.add_argument("manifest", help="manifest JSON file, or - for stdin")
    command.add_argument("--key", required=True, type=Path, help="key file")
    command.add_argument("-o", "--output", type=Path, help="signed manifest file (default stdout)")
    command.set_defaults(handler=cmd_sign)


def cmd_sign(args: argparse.Namespace) -> int:
    """Sign a manifest (replacing any signature); print it, or write it and print its digest."""
    from ledger.core.manifest import parse_manifest
    from ledger.core.signing import sign_manifest
    from ledger.keyfile import load_key

    key = load_key(args.key)
    obj = parse_strict(read_source(args.manifest))
    if not isinstance(obj, dict):
        raise ValidationError("a manifest must be a JSON object")
    signed = sign_manifest(obj, key)
    if args.output is None:
        sys.stdout.write(_pretty(signed))
        return EXIT_OK
    _write_json(args.output, signed)
    print(f"{parse_manifest(signed).digest_hex()}  {args.output}")
    return EXIT_OK


def _add_verify_manifest(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("verify-manifest", help="check a manifest and its signature")
    command.add_argument("manifest", help="manifest JSON file, or - for stdin")
    command.add_argument("--assets", type=Path, metavar="FILE",
                         help="1.1: its entries (default: assets.jsonl beside the manifest)")
    command.set_defaults(handler=cmd_verify_manifest)


def cmd_verify_manifest(args: argparse.Namespace) -> int:
    """Validate a manifest, verify its signature and print its digest; for a 1.1 header,
    check every entry of its assets file and that they are the ones it signed."""
    from ledger.core.manifest import ManifestHeader, parse_manifest_json
    from ledger.core.signing import verify_manifest

    manifest = parse_manifest_json(read_source(args.manifest))
    verify_manifest(manifest)
    if isinstance(manifest, ManifestHeader):
        from ledger.app.packager import ASSETS_FILE
        from ledger.cli.upload import check_entries

        beside = None if args.manifest == "-" else Path(args.manifest).parent / ASSETS_FILE
        assets = args.assets or beside
        if assets is not None and (args.assets is not None or assets.exists()):
            check_entries(manifest, assets)
        else:
            print(f"note: no {ASSETS_FILE} beside the manifest (give --assets FILE): only the "
                  "header and its signature were checked", file=sys.stderr)
    print(manifest.digest_hex())
    return EXIT_OK


def _add_digest(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "digest", help="print a manifest's digest (signature not checked)"
    )
    command.add_argument("manifest", help="manifest JSON file, or - for stdin")
    command.set_defaults(handler=cmd_digest)


def cmd_digest(args: argparse.Namespace) -> int:
    """Print the digest of a valid signed manifest without verifying the signature."""
    from ledger.core.manifest import parse_manifest_json

    print(parse_manifest_json(read_source(args.manifest)).digest_hex())
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------


def read_source(source: str) -> bytes:
    """The bytes of a file, or of stdin for ``-``."""
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def _pretty(obj: Any) -> str:
    # Python writes each float as its shortest round-trip form, so the file
    # parses back to the same values and canonical bytes.
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _write_json(path: Path, obj: Any) -> None:
    """Replace ``path`` atomically with ``obj`` as pretty JSON."""
    replace_file(path, _pretty(obj).encode())


def hash_progress(stream: TextIO) -> Callable[[HashProgress], None]:
    """A progress line for hashing on ``stream`` (a terminal), redrawn at most 10 times
    a second: files done, bytes done, and the rate of what was read."""
    last = 0.0

    def show(state: HashProgress) -> None:
        nonlocal last
        now = time.monotonic()
        done = state.files_done >= state.files_total
        if now - last < 0.1 and not done:
            return
        last = now
        rate = (state.bytes_done / 1e6) / max(state.elapsed, 1e-6)
        cached = f", {state.cached:,} from the cache" if state.cached else ""
        stream.write(f"\rhashing {state.files_done:,}/{state.files_total:,} files, "
                     f"{state.bytes_done / 2**20:,.1f}/{state.bytes_total / 2**20:,.1f} MiB, "
                     f"{rate:,.1f} MB/s{cached}" + ("\n" if done else ""))
        stream.flush()

    return show
