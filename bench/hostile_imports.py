"""Memory and time of imports built to hurt: a long line in a zip, wide CSV, deep JSON.

    .venv/bin/python bench/hostile_imports.py [--line-mib 1024] [--columns 10000,30000,100000] [--depth 100000]
                                              [--images 80]

Writes the files into a temporary folder (the zip is ~1 MB however long its line), migrates a fresh
SQLite database (bench/fresh.py), and imports each file into a text project through
``import_create`` + ``import_run`` — the code path of an upload — in a child process of its own
(the zip of images into an image project).
Prints per file the seconds and the child's peak RSS (``ru_maxrss``) before, after reading the file
alone (``ingest.read_source``), and after importing it, and
what the import said: rows kept, rows refused, the first refusal. The control zip shows what the
rest of such an import costs (the curation run after it loads numpy's and Pillow's code paths).
Figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import ROOT, fresh_database  # noqa: E402

GOOD = [json.dumps({"id": f"good{i}", "text": f"a good row, number {i}"}) for i in range(5)]


def make_long_line_zip(path: Path, mib: int) -> None:
    """items.jsonl: five good rows, one row whose text is ``mib`` MiB of 'a', five good rows."""
    chunk = b"a" * 1024**2
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("items.jsonl", "w", force_zip64=True) as fh:
            fh.write(("\n".join(GOOD) + "\n").encode())
            fh.write(b'{"id": "long", "text": "')
            for _ in range(mib):
                fh.write(chunk)
            fh.write(b'"}\n')
            fh.write(("\n".join(g.replace("good", "after") for g in GOOD) + "\n").encode())


def make_wide_csv(path: Path, columns: int) -> None:
    header = ["id", "text", *(f"c{i}" for i in range(columns - 2))]
    row = ["1", "hello", *("x" for _ in range(columns - 2))]
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n")


def make_deep_jsonl(path: Path, depth: int) -> None:
    deep = '{"id": "deep", "text": "deep", "metadata": {"m": ' + "[" * depth + "]" * depth + "}}"
    after = [g.replace("good", "after") for g in GOOD]
    path.write_text("\n".join([*GOOD, deep, *after]) + "\n")


def make_padded_images_zip(path: Path, n: int) -> None:
    """``n`` PNGs of 24 MB each: a small picture and zeros after it (Pillow reads the picture and
    ignores the tail), so the zip stays small while each entry is near the image limit."""
    import io

    from PIL import Image

    for_zip = []
    for i in range(n):
        out = io.BytesIO()
        Image.new("RGB", (64, 64), (i * 3 % 256, 90, 200)).save(out, "PNG")
        for_zip.append(out.getvalue())
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, png in enumerate(for_zip):
            with zf.open(f"img{i:03d}.png", "w") as fh:
                fh.write(png)
                for _ in range(24):
                    fh.write(bytes(1024**2 - (len(png) if _ == 0 else 0)))


def child(path: str, kind: str) -> None:
    """Import one file into a new project and print what it cost, as JSON."""
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quorum.settings")
    django.setup()
    from annotation.imports import services as imports
    from annotation.ingest import readers as ingest
    from annotation.projects import services as projects_services

    project = projects_services.project_create(actor=None, name=Path(path).name, slug=f"h{os.getpid()}", item_kind=kind)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    fmt = ingest.detect_format(path) or ""
    read = sum(1 for _ in ingest.read_source(Path(path), fmt, imports.import_limits(), Path(path).name))
    read_seconds = time.perf_counter() - started
    read_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    job = imports.import_create(actor=None, project=project, name=Path(path).name, path=Path(path))
    job = imports.import_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first = job.errors[0] if job.errors else None
    print(json.dumps({
        "read_only": {"rows": read, "seconds": round(read_seconds, 3), "rss_peak_mb": round(read_peak, 1)},
        "seconds": round(seconds, 3), "rss_before_mb": round(before, 1), "rss_peak_mb": round(after, 1),
        "status": job.status, "created": job.created, "failed": job.failed,
        "first_error": first and {k: v[:120] for k, v in first.items()}, "message": job.message[:160],
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line-mib", type=int, default=1024, help="length of the long JSONL line in MiB (0: skip)")
    parser.add_argument("--columns", default="10000,30000,100000", help="CSV widths to try, comma-separated")
    parser.add_argument("--depth", type=int, default=100_000, help="nesting depth of the deep JSONL row (0: skip)")
    parser.add_argument("--images", type=int, default=80, help="PNGs of 24 MB (mostly zeros) in one zip (0: skip)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    tmp = Path(tempfile.mkdtemp(prefix="quorum-hostile-"))
    cases: list[tuple[str, Path, str]] = []
    if args.line_mib:
        path = tmp / "long-line.zip"
        make_long_line_zip(path, args.line_mib)
        cases.append((f"zip ({path.stat().st_size / 1e6:.1f} MB) with a {args.line_mib} MiB JSONL line", path, "text"))
        control = tmp / "control.zip"  # the same rows, the long one empty: what the rest of an import costs
        make_long_line_zip(control, 0)
        cases.append(("control: the same zip, its long row empty", control, "text"))
    for n in (int(c) for c in args.columns.split(",") if c):
        path = tmp / f"wide-{n}.csv"
        make_wide_csv(path, n)
        cases.append((f"CSV with {n:,} columns ({path.stat().st_size / 1e6:.1f} MB)", path, "text"))
    if args.depth:
        path = tmp / "deep.jsonl"
        make_deep_jsonl(path, args.depth)
        cases.append((f"JSONL: 5 good rows, one nested {args.depth:,} deep, 5 good rows", path, "text"))
    if args.images:
        path = tmp / "padded-images.zip"
        make_padded_images_zip(path, args.images)
        cases.append((f"zip ({path.stat().st_size / 1e6:.1f} MB) of {args.images} PNGs of 24 MB", path, "image"))
    env = fresh_database("sqlite")
    for title, path, kind in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path), kind],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        print(f"== {title}")
        print(out.stdout.strip() or out.stderr.strip()[-2000:])


if __name__ == "__main__":
    main()
