"""Embedded metadata in ``ledger package`` and ``ledger audit`` (issue 18), against plain
hashing of the same files.

Run from the repository root::

    .venv/bin/python -m bench.metadata_bench [--files 200] [--side 1600] [--rounds 3]
    .venv/bin/python -m bench.metadata_bench --files 10000     # the issue's goal size
    .venv/bin/python -m bench.metadata_bench --files 10000 --case "audit --quick"

It writes ``--files`` JPEGs of ``--side`` by ¾ ``--side`` random pixels (about 1.4 MiB
each at 1600, quality 85, each with an EXIF capture date and offset) into a temporary
folder, reads them once so every case finds them in the page cache (and again, untimed,
after each case that wrote copies, which can evict them), then times, in this
process and in interleaved rounds (best of ``--rounds`` each; the cases that write copies
in rounds of their own, after the others):

- **hashing**, the reference: `ledger.app.file_hashes.hash_listing` over the folder (the
  walk included, one thread per CPU), which is what ``ledger package`` did before;
- ``ledger package DIR`` (now reading each file's metadata and C2PA, and running the
  audit's error checks first);
- ``ledger package DIR --embed OUT`` (also writing every copy with its XMP, each hashed
  from the bytes as they are written: packaging does not read the copies again);
- copying the files (``shutil.copytree``): the floor writing copies sets, whatever is
  written into them; copying them and then hashing the copies (what ``--embed`` did
  before); and copying them while hashing the bytes copied
  (`ledger.media.hashed_copy.copy_file_hashing`, one thread per CPU), what it does now;
- the metadata step alone (`ledger.app.embedding.read_folder_metadata`: reading each
  file's XMP/EXIF/IPTC and C2PA; then also writing the copies), to tell its cost from
  the audit checks that ``ledger package`` runs too;
- ``ledger audit DIR --quick`` (no decoding), ``ledger audit DIR --no-faces`` and
  ``ledger audit DIR``; face detection's cost per image is the difference of the last
  two over the number of files.

Ratios are throughputs against hashing (1.00 = as fast as hashing alone); the goals are
≥ 0.50 for ``--embed`` and ≥ 0.80 for the audit without faces (``--quick``: the
default audit decodes every image, docs/metadata.md, "Audit"). The ``bench:metadata``
section of docs/benchmarks.md is replaced unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.report import write_section
from ledger.app.embedding import MetadataOptions, read_folder_metadata
from ledger.app.file_hashes import hash_listing, list_folder
from ledger.cli.main import build_parser, main
from ledger.media.hashed_copy import copy_file_hashing

COMMAND = ".venv/bin/python -m bench.metadata_bench"
_EMBED_WHY = """
Why `--embed` stays under 0.50: it writes a copy of every byte, and this machine
writes far slower than it hashes. Hashing reads the page cache at about 2.8 GB/s (both
CPUs); the disk takes a sustained 351 MB/s of writes (`dd if=/dev/zero of=FILE bs=16M
count=400 conv=fdatasync`: 6.7 GB in 19.1 s, 2026-12-05), and the page cache absorbs
writes only up to its dirty limit (10-20 % of memory) before writers are held to the
disk's speed. So copying alone, which `--embed` cannot beat, falls from 0.70 of hashing
at 200 files to about 0.2 at 2,000, and past the dirty limit any full copy is bounded
near 351 / 2,800 = 0.13 of hashing; with the originals read from disk instead (1.5 GB/s
here, cold), near 0.23. No `--embed` that writes every copy in full can reach 0.50 on
this machine. What it computes is cheap beside that: each copy is hashed while it is
written (packaging does not read the copies again) and the metadata step reads only the
header segments. On a filesystem with shared extents (Btrfs, XFS reflinks) a copy could
share the original's blocks after a block-aligned header; ext4, here, has none.
"""
_PACKAGE = ("--creator", "creator:bench", "--license", "non-exclusive-training",
            "--payout", "stripe:acct_1")


def write_images(folder: Path, count: int, side: int) -> int:
    """``count`` distinct JPEGs of random pixels with an EXIF date; their total size."""
    from PIL import Image

    height = side * 3 // 4
    total = 0
    for index in range(count):
        exif = Image.Exif()
        exif[0x8769] = {0x9003: f"2025:11:02 {index // 3600 % 24:02}:{index // 60 % 60:02}:"
                                f"{index % 60:02}", 0x9011: "+02:00"}
        picture = Image.frombytes("RGB", (side, height), os.urandom(side * height * 3))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85, exif=exif)
        path = folder / f"d{index // 1000:03}" / f"img-{index:06}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(out.getvalue())
        total += len(out.getvalue())
    return total


def _warm(folder: Path) -> None:
    """Read every file of ``folder`` once, into the page cache (hashed, as packaging
    reads them)."""
    list(hash_listing(list_folder(folder)))


def _quiet(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        if code not in (0, 1):  # 1: `ledger audit` found something, as it may here
            raise SystemExit(f"ledger {argv[0]} failed with exit status {code}")
    return run


Cases = dict[str, Callable[[], None]]


def cases(folder: Path, scratch: Path) -> tuple[Cases, Cases]:
    """What is timed, by name: the cases that only read the files, and those that write
    a copy of every one (only into ``scratch``, emptied after each)."""
    def hashing() -> None:
        list(hash_listing(list_folder(folder)))

    from ledger.media.c2pa_read import ManifestReader

    def step(embed_dir: Path | None) -> Callable[[], None]:
        def run() -> None:
            with ManifestReader() as read_c2pa:  # one for every file, as `ledger package`
                read_folder_metadata(folder, "creator:bench", None, ["non-exclusive-training"],
                                     MetadataOptions(embed_dir=embed_dir, read_c2pa=read_c2pa))
        return run

    def copying() -> None:
        shutil.copytree(folder, scratch / "plain")

    def copying_then_hashing() -> None:
        shutil.copytree(folder, scratch / "plain")
        list(hash_listing(list_folder(scratch / "plain")))

    def copying_hashing() -> None:
        listing = list_folder(folder)
        for relative in {os.path.dirname(relative) for relative in listing.relatives}:
            (scratch / "hashed" / relative).mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(lambda relative: copy_file_hashing(
                folder / relative, scratch / "hashed" / relative), listing.relatives))

    readers: Cases = {
        "hashing": hashing,
        "metadata step: read": step(None),
        "package": _quiet(["package", str(folder), *_PACKAGE, "-o", str(scratch / "m.json")]),
    }
    if "audit" in _commands():
        report = str(scratch / "audit.json")
        readers["audit --quick"] = _quiet(["audit", str(folder), "--quick", "--json", report])
        readers["audit --no-faces"] = _quiet(["audit", str(folder), "--no-faces", "--json",
                                              report])
        readers["audit"] = _quiet(["audit", str(folder), "--json", report])
    writers: Cases = {
        "copying the files": copying,
        "copying, then hashing the copies": copying_then_hashing,
        "copying while hashing": copying_hashing,
        "metadata step: read, write copies": step(scratch / "step"),
        "package --embed": _quiet(["package", str(folder), *_PACKAGE, "--embed",
                                   str(scratch / "copies")]),
    }
    return readers, writers


def _commands() -> set[str]:
    parser = build_parser()
    return {name for action in parser._subparsers._group_actions  # type: ignore[union-attr]
            for name in getattr(action, "choices", {}) or {}}


def measure(runs: Cases, rounds: int, scratch: Path,
            warm: Callable[[], None] | None = None) -> dict[str, float]:
    """Best time of each case over ``rounds`` interleaved rounds; ``scratch`` is
    emptied after each, and ``warm`` run, both untimed: copies larger than the free
    memory evict the originals from the page cache, and the next case would read them
    from disk where the others did not."""
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
            shutil.rmtree(scratch)
            scratch.mkdir()
            if warm is not None:
                warm()
    return best


def report(times: dict[str, float], files: int, size: int, side: int) -> str:
    """The ``bench:metadata`` section."""
    goals = {"package --embed": "≥ 0.50", "audit --quick": "≥ 0.80"}
    today = datetime.date.today().isoformat()
    load = os.getloadavg()[0]
    lines = [
        "<!-- bench:metadata -->",
        "## Embedded metadata: package, --embed, audit (issue 18)",
        "",
        f"`{shlex.join([*COMMAND.split(), *sys.argv[1:]])}`, {today}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{load:.2f} at its end (its own load included). {files:,} JPEGs of "
        f"{side}x{side * 3 // 4} random pixels "
        f"({size / files / 2**20:.2f} MiB each, {size / 2**20:,.0f} MiB in all), in the "
        "page cache; each case in this process, best of interleaved rounds. Ratio: "
        "throughput against plain hashing in the same run.",
        "",
        "| case | time | files/s | MB/s | ratio to hashing | goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, seconds in times.items():
        label = ("hashing (reference)" if name == "hashing" else name
                 if name.startswith(("metadata", "copying")) else f"`ledger {name}`")
        lines.append(
            f"| {label} | "
            f"{seconds:.2f} s | {files / seconds:,.0f} | {size / 1e6 / seconds:,.0f} | "
            f"{times['hashing'] / seconds:.2f} | {goals.get(name, '')} |")
    if "audit" in times and "audit --no-faces" in times:
        cost = (times["audit"] - times["audit --no-faces"]) / files * 1e3
        lines += ["", f"Face detection costs {cost:.1f} ms an image here (`ledger audit` "
                  "with faces minus `--no-faces`, over the number of files)."]
    lines += ["", *_EMBED_WHY.strip("\n").splitlines()]
    lines += ["", f"At the issue's size: `{COMMAND} --files 10000` (needs about "
              f"{2 * 10_000 * size / files / 2**30:.0f} GiB free in the temporary folder: "
              "the images and one set of copies).",
              "<!-- /bench:metadata -->"]
    return "\n".join(lines) + "\n"


def run(files: int, side: int, rounds: int, write: bool, only: list[str] | None = None
        ) -> str:
    """Make the files, time every case (those named in ``only``, with hashing, when
    given), and return (and maybe write) the section."""
    with tempfile.TemporaryDirectory(prefix="metadata-bench-") as temporary:
        folder, scratch = Path(temporary) / "photos", Path(temporary) / "scratch"
        folder.mkdir()
        scratch.mkdir()
        size = write_images(folder, files, side)
        _warm(folder)
        readers, writers = cases(folder, scratch)
        if only:
            unknown = set(only) - set(readers) - set(writers)
            if unknown:
                raise SystemExit(f"no such case: {', '.join(sorted(unknown))}")
            readers = {name: run for name, run in readers.items()
                       if name == "hashing" or name in only}
            writers = {name: run for name, run in writers.items() if name in only}
        # The cases that write copies run after the others: writing gigabytes leaves the
        # kernel reclaiming memory and flushing for a while, which would slow whatever
        # read the originals next, and not the hashing it is compared with.
        times = {**measure(readers, rounds, scratch),
                 **measure(writers, rounds, scratch, warm=lambda: _warm(folder))}
    section = report(times, files, size, side)
    if write:
        write_section("metadata", section)
    return section


def image_bench_main(doc: str, bench: Callable[..., str], *, selectable: bool = False
                     ) -> None:
    """Parse the image benchmarks' shared options and print what ``bench`` returns
    (``selectable``: it takes the cases named with ``--case`` too)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--side", type=int, default=1600, help="image width in pixels")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true",
                        help="print the section, leave docs/benchmarks.md alone")
    if selectable:
        parser.add_argument("--case", action="append", dest="only", metavar="NAME",
                            help="time only this case (repeatable; hashing always runs)")
    args = parser.parse_args()
    extra = [args.only] if selectable else []
    sys.stdout.write(bench(args.files, args.side, args.rounds, not args.no_write, *extra))


if __name__ == "__main__":
    image_bench_main(__doc__, run, selectable=True)
