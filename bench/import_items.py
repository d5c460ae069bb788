"""Import throughput through `manage.py import_items`, on SQLite and on PostgreSQL.

    .venv/bin/python bench/import_items.py [--text 100000] [--images 1000] [--backends sqlite,postgres]

Makes 100,000 JSONL text items and 1,000 JPEG images (512×512) in a temporary folder, migrates a
fresh database per backend (a temporary SQLite file; the PostgreSQL database `quorum_bench`,
dropped and re-created), and times the command. Prints items/s; figures go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import ROOT, fresh_database  # noqa: E402


def make_text(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"t{i}", "text": f"Item number {i}: the quick brown fox jumps over the lazy dog {i * 7919 % 100003}.",
                                 "metadata": {"batch": i // 1000, "source": "bench"}}) + "\n")  # fmt: skip


def make_images(folder: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    for i in range(n):
        arr = base.copy()
        arr[:64, :64, :] = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)  # no two alike
        Image.fromarray(arr).save(folder / f"img{i:05d}.jpg", "JPEG", quality=85)


def run_backend(backend: str, text_file: Path, image_dir: Path, counts: dict[str, int]) -> dict[str, float]:
    env = fresh_database(backend)
    py = sys.executable
    manage = [py, str(ROOT / "manage.py")]
    setup = (
        "from django.contrib.auth.models import User; from annotation.projects import services;"
        "u = User.objects.create_user('bench');"
        "services.project_create(actor=u, name='Bench text', slug='bench-text', exact_slug=True, item_kind='text');"
        "services.project_create(actor=u, name='Bench images', slug='bench-images', exact_slug=True, item_kind='image')"
    )
    subprocess.run([*manage, "shell", "-c", setup], env=env, check=True, cwd=ROOT)
    results = {}
    for name, slug, source in (("text", "bench-text", text_file), ("images", "bench-images", image_dir)):
        if not counts[name]:  # --text 0 / --images 0: nothing to time (and no rate to divide by)
            continue
        started = time.perf_counter()
        out = subprocess.run([*manage, "import_items", slug, str(source)], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        m = re.search(r"(\d+) rows, (\d+) imported.* in ([\d.]+) s", out.stdout)
        rows, imported, inside = int(m.group(1)), int(m.group(2)), float(m.group(3))
        assert imported == rows, out.stdout + out.stderr
        # The command prints its time to 0.01 s: a tiny import may show 0.00.
        rate = imported / inside if inside else float("inf")
        results[name] = {"items": imported, "import_s": inside, "items_per_s": rate, "command_wall_s": wall}
        print(f"{backend:9} {name:7} {imported:7d} items  import {inside:6.2f} s = {rate:9,.0f} items/s"
              f"   (whole command incl. start-up {wall:5.2f} s)", flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory(prefix="quorum-bench-data-") as tmp:
        text_file = Path(tmp) / "items.jsonl"
        image_dir = Path(tmp) / "images"
        make_text(text_file, args.text)
        make_images(image_dir, args.images)
        print(f"data: {args.text:,} JSONL text items ({text_file.stat().st_size / 1e6:.1f} MB), "
              f"{args.images:,} JPEG 512×512 ({sum(p.stat().st_size for p in image_dir.iterdir()) / 1e6:.1f} MB)")  # fmt: skip
        for backend in args.backends.split(","):
            run_backend(backend.strip(), text_file, image_dir, {"text": args.text, "images": args.images})


if __name__ == "__main__":
    main()
