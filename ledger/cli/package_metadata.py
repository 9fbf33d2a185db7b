"""`ledger package`'s metadata options: read each file's own metadata, and with
``--embed`` write copies carrying ledger's (docs/metadata.md)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli.package_c2pa import add_c2pa_options, c2pa_hooks
from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger.app.audit import PackageAudit
    from ledger.app.packager import PackageSpec


def add_metadata_options(command: argparse.ArgumentParser) -> None:
    """The options of `ledger package` about the files' embedded metadata."""
    group = command.add_argument_group(
        "embedded metadata (docs/metadata.md)",
        "JPEG, PNG and WebP files are read: EXIF capture date into captureDate, and rights "
        "statements that contradict the licences stop packaging (exit 2, naming the file).")
    group.add_argument(
        "--embed", type=Path, metavar="OUTDIR",
        help="write a copy of each file into OUTDIR (new or empty, outside DIR), images with "
        "ledger's XMP; the copies are hashed and registered (manifest default OUTDIR/"
        "manifest.json); originals are never changed")
    group.add_argument("--strip-location", action="store_true",
                       help="remove GPS position and place names from the copies (--embed)")
    group.add_argument("--override-conflicts", metavar="REASON",
                       help="package despite metadata conflicts; each overridden conflict and "
                       "REASON are recorded in the asset's signed extensions")
    group.add_argument("--service", metavar="URL",
                       help="the ledger service to ask who else registered each file (sends "
                       "only the SHA-256 digests; another creator's file stops packaging "
                       "unless --override-conflicts), and whose record page of the creator "
                       "the copies' xmpRights:WebStatement names (--embed)")
    group.add_argument("--no-lookup", action="store_true",
                       help="with --service: do not ask it who registered the files (offline)")
    add_c2pa_options(group)


def with_metadata(args: argparse.Namespace, spec: PackageSpec, exclude: list[Path]
                  ) -> tuple[PackageSpec, Path, dict[bytes, bytes]]:
    """The spec with each file's own entry members, the folder to hash (the copies
    with --embed), and the copies' digests by hash cache key, computed while writing
    them (`ledger.app.embedding.FolderMetadata.known`); notices go to stderr."""
    from ledger.app.embedding import MetadataOptions, read_folder_metadata

    if args.strip_location and args.embed is None:
        raise ValidationError("needs --embed: only the copies are changed",
                              field="--strip-location")
    reason = args.override_conflicts
    if reason is not None and not reason.strip():
        raise ValidationError("give the reason the conflicts do not apply",
                              field="--override-conflicts")
    if args.service is not None and not args.service.startswith(("https://", "http://")):
        raise ValidationError("must be an http(s):// URL", field="--service")
    audited = _stop_on_audit_errors(args, spec, exclude)
    with c2pa_hooks(args) as c2pa:
        options = MetadataOptions(embed_dir=args.embed, strip_location=args.strip_location,
                                  override_reason=reason, service=args.service,
                                  sign_copy=c2pa.sign_copy, read_c2pa=c2pa.read,
                                  workers=args.workers, registered_by=audited.registered_by)
        found = read_folder_metadata(args.directory, spec.creator_id, spec.creator_name,
                                     spec.licenses, options, exclude=exclude)
    for notice in found.notices:
        print(f"note: {notice}", file=sys.stderr)
    # Digests packaging need not compute again: the originals' the audit hashed (with
    # --service), the copies' their writer hashed (--embed). A key names a path, size
    # and mtime, so only the files packaging hashes find theirs.
    known = {**audited.known, **found.known}
    return dataclasses.replace(spec, per_file=found.members), found.folder, known


def _stop_on_audit_errors(args: argparse.Namespace, spec: PackageSpec, exclude: list[Path]
                          ) -> PackageAudit:
    """Stop, naming the files, on what `ledger audit` calls an error (an empty or corrupt
    file, a missing model release, …): a buyer's compliance team would. Else the audit:
    with ``--service``, the files another creator registered (path -> creator ids), left
    to the conflict rules (`ledger.app.embedding`), and the digests it computed."""
    from ledger.app.audit import audit_for_package
    from ledger.cli.assets import service_lookup

    url = None if args.no_lookup else args.service
    with service_lookup(url) as lookup:
        found = audit_for_package(args.directory, spec, lookup=lookup, exclude=exclude,
                                  workers=args.workers)
    errors = found.errors
    if errors:
        named = [f"{item.path}: {item.code} ({item.message})" for item in errors[:3]]
        more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
        raise ValidationError(f"{'; '.join(named)}{more}: fix them first (`ledger audit "
                              f"{args.directory}` says how)")
    return found
