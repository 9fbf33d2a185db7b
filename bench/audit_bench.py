"""``ledger audit`` against plain hashing, on photographs (issue 18).

Run from the repository root::

    .venv/bin/python -m bench.audit_bench [--files 200] [--side 1600] [--rounds 3]

bench/metadata_bench.py times the audit on JPEGs of random pixels, the worst case for
a JPEG decoder (every coefficient is large). This one uses photographs: scikit-image's
sample pictures, each file a different random crop scaled to ``--side`` by ¾ ``--side``
(JPEG, quality 85), so no two files are the same picture. It times, in interleaved
rounds (best of ``--rounds``), `ledger.app.file_hashes.hash_listing` (the reference),
``ledger audit DIR --quick``, ``ledger audit DIR --no-faces`` and ``ledger audit DIR``
(in this process, JSON report written), and replaces the ``bench:audit`` section of
docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import datetime
import io
import os
import platform
import random
import tempfile
from pathlib import Path

from bench.metadata_bench import _quiet, image_bench_main, measure
from bench.report import write_section
from ledger.app.file_hashes import hash_listing, list_folder

COMMAND = ".venv/bin/python -m bench.audit_bench"
_WHY = """
Why `--no-faces` stays far below hashing: it decodes every image (at 1/8 scale for a
JPEG: the perceptual hash of the near-duplicate check needs pixels, and the decode is
also what finds damage inside the data), about 4 ms a 1600x1200 photograph in one
process where hashing it takes about 0.15 ms; no decoder shortcut closes a 25-fold gap.
`--quick` decodes nothing: SHA-256 (identical duplicates, the lookup), the header (type,
dimensions, decompression bombs), how the data ends (JPEG EOI, PNG IEND, GIF trailer,
WebP RIFF size: truncated files), EXIF/IPTC/XMP read from the header segments only, and
C2PA only where the segment walk finds a store; in one process per CPU, each JPEG
hashed as it is read. What it adds to hashing is per file, not per byte: about 0.1 ms
of metadata reading (exiv2 on the header segments, and the Python around it) and a few
hundredths for the header walk and the end check, which weighs more the smaller the
file: a 185 KiB photograph hashes in about the same time, so here `--quick` stays near
half of hashing's throughput, where on the 1.4 MiB files of the metadata benchmark
(docs/benchmarks.md, "bench:metadata") it passes 0.80.
"""
_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "retina", "hubble_deep_field")


def _hash_all(folder: Path) -> None:
    for _ in hash_listing(list_folder(folder)):
        pass


def write_photos(folder: Path, count: int, side: int) -> int:
    """``count`` distinct photographs as JPEG; their total size."""
    from PIL import Image
    from skimage import data

    chooser = random.Random(18)
    pictures = [Image.fromarray(getattr(data, name)()) for name in _SAMPLES]
    total = 0
    for index in range(count):
        picture = pictures[index % len(pictures)]
        width, height = picture.size
        left, top = chooser.randrange(width // 4), chooser.randrange(height // 4)
        crop = picture.crop((left, top, left + width * 3 // 4, top + height * 3 // 4))
        out = io.BytesIO()
        crop.resize((side, side * 3 // 4)).save(out, "JPEG", quality=85)
        (folder / f"photo-{index:05}.jpg").write_bytes(out.getvalue())
        total += len(out.getvalue())
    return total


def report(times: dict[str, float], files: int, size: int, side: int, rounds: int,
           fixed: float) -> str:
    """The ``bench:audit`` section; ``fixed``: the time of ``--quick`` on one file."""
    today = datetime.date.today().isoformat()
    lines = [
        "<!-- bench:audit -->",
        "## The rights audit on photographs (issue 18)",
        "",
        f"`{COMMAND} --files {files} --side {side} --rounds {rounds}`, {today}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{os.getloadavg()[0]:.2f} before the run. {files:,} JPEG photographs of "
        f"{side}x{side * 3 // 4} ({size / files / 2**10:,.0f} KiB each), in the page cache; "
        "best of interleaved rounds. Ratio: throughput against plain hashing in the same run.",
        "",
        "| case | time | files/s | ratio to hashing | goal |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    goals = {"audit --quick": "≥ 0.80"}
    for name, seconds in times.items():
        label = "hashing (reference)" if name == "hashing" else f"`ledger {name}`"
        lines.append(f"| {label} | {seconds:.2f} s | {files / seconds:,.0f} | "
                     f"{times['hashing'] / seconds:.2f} | {goals.get(name, '')} |")
    cost = (times["audit"] - times["audit --no-faces"]) / files * 1e3
    net = times["hashing"] / max(times["audit --quick"] - fixed, 1e-9)
    lines += ["", f"Face detection: {cost:.0f} ms an image of wall time here, with every CPU "
              "busy (`ledger audit` minus `--no-faces`, over the number of files).",
              "", f"The command's fixed cost (`ledger audit --quick` of a one-file folder: "
              f"parser, walk, report) is {fixed:.2f} s here; net of it, `--quick` runs at "
              f"{net:.2f} of hashing's throughput, which a large folder (the issue's 10,000 "
              "files) approaches.",
              "", *_WHY.strip("\n").splitlines(), "<!-- /bench:audit -->"]
    return "\n".join(lines) + "\n"


def run(files: int, side: int, rounds: int, write: bool) -> str:
    """Make the photographs, time the cases, return (and maybe write) the section."""
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as temporary:
        folder, scratch = Path(temporary) / "photos", Path(temporary) / "scratch"
        single = Path(temporary) / "one"
        report_file = str(scratch / "audit.json")
        for made in (folder, scratch, single):
            made.mkdir()
        size = write_photos(folder, files, side)
        write_photos(single, 1, side)
        list(hash_listing(list_folder(folder)))  # into the page cache
        times = measure({
            "hashing": lambda: _hash_all(folder),
            "audit --quick": _quiet(["audit", str(folder), "--quick", "--json", report_file]),
            "audit --no-faces": _quiet(["audit", str(folder), "--no-faces", "--json",
                                        report_file]),
            "audit": _quiet(["audit", str(folder), "--json", report_file]),
            "fixed": _quiet(["audit", str(single), "--quick", "--json", report_file]),
        }, rounds, scratch)
    fixed = times.pop("fixed")
    section = report(times, files, size, side, rounds, fixed)
    if write:
        write_section("audit", section)
    return section


if __name__ == "__main__":
    image_bench_main(__doc__, run)
