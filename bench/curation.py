"""Curation speed: near-duplicate search over random hashes, and an image import with curation.

    .venv/bin/python bench/curation.py [--hashes 100000] [--big-hashes 1000000] [--images 2000] [--backends sqlite,postgres]

1. ``annotation.curation.near_pairs`` over 100,000 seeded random 64-bit hashes with ten planted
   near pairs at distances 1 to 10: the first call (numba loads or compiles its cached probe)
   and the best of five warm calls, at max_distance 10 (the project default) and 7, and once
   over 1,000,000 hashes. Every planted pair must be found. At 10 also ``near_clusters``, which
   the curation run calls: every planted pair must share a cluster.
2. ``manage.py import_items`` of a folder of 2,000 different photo-like 512×512 JPEGs (random
   crops, rotations, mirrors and colour shifts of the photos bundled with scikit-image), a few
   of them exact copies and near copies of others, in a fresh database per backend; the import
   runs curation over the project at its end. Afterwards, from the database: the clusters and
   flags curation made, whether each planted near copy shares a cluster with its original, and
   the time of the curation step alone (re-run from the state the import left it in).

Prints the figures; they go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import MANAGE, ROOT, fresh_database  # noqa: E402

sys.path.insert(0, str(ROOT))
PLANTED_DISTANCES = range(1, 11)
SIDE = 512


# --- 1. near-duplicate search -----------------------------------------------------------------


def planted_hashes(n: int, seed: int = 0) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """``n`` random uint64 hashes, and (i, j, distance) of the pairs planted among them."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    ends = rng.choice(n, size=2 * len(PLANTED_DISTANCES), replace=False)
    planted = []
    for k, d in enumerate(PLANTED_DISTANCES):
        i, j = sorted(int(x) for x in ends[2 * k : 2 * k + 2])
        flip = sum(1 << int(b) for b in rng.choice(64, size=d, replace=False))
        hashes[j] = hashes[i] ^ np.uint64(flip)
        planted.append((i, j, d))
    return hashes, planted


def timed(repeats: int, fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)``, the seconds of this first call, and the best of ``repeats`` more."""
    started = time.perf_counter()
    result = fn(*args)
    first = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        warm.append(time.perf_counter() - started)
    return result, first, min(warm, default=None)


def bench_search(n: int, big: int) -> None:
    started = time.perf_counter()
    from annotation.curation import measures as curation

    print(f"import annotation.curation (numpy, numba, Pillow): {time.perf_counter() - started:.2f} s")
    for size, distances, repeats in ((n, (10, 7), 5), (big, (10,), 0)):
        if not size:
            continue
        hashes, planted = planted_hashes(size)
        for d in distances:
            expected = {(a, b) for a, b, pd in planted if pd <= d}
            (i, j, _), first, warm = timed(repeats, curation.near_pairs, hashes, d)
            missed = expected - set(zip(i.tolist(), j.tolist(), strict=True))
            assert not missed, f"planted pairs missed: {sorted(missed)}"
            how = "compiled" if sum(curation._probe.stats.cache_misses.values()) else "from cache"
            print(f"near_pairs    {size:>9,} hashes  max_distance {d:2}: {len(i):6,} pairs "
                  f"(planted {len(expected)}/{len(expected)} found)  first call {first:6.3f} s (probe {how})"
                  + (f"  best warm of {repeats} {warm:6.3f} s" if warm else ""), flush=True)  # fmt: skip
            if d != 10:
                continue
            # What curation_run calls: the clusters straight from the hashes (union-find).
            found, first, warm = timed(repeats, curation.near_clusters, hashes, d, np.zeros(size))
            cluster_of = {m: k for k, c in enumerate(found) for m in c.members}
            missed = {(a, b) for a, b in expected if cluster_of.get(a, -1) != cluster_of.get(b, -2)}
            assert not missed, f"planted pairs not clustered: {sorted(missed)}"
            print(f"near_clusters {size:>9,} hashes  max_distance {d:2}: {len(found):6,} clusters "
                  f"(planted {len(expected)}/{len(expected)} joined)  first call {first:6.3f} s"
                  + (f"  best warm of {repeats} {warm:6.3f} s" if warm else ""), flush=True)  # fmt: skip


# --- 2. import with curation --------------------------------------------------------------------


def load_photos() -> list:
    """The scikit-image and scikit-learn sample photos at least 250 px a side, in RGB, the larger
    ones brought down to 700 px on the short side."""
    from PIL import Image

    from tests.curation_photos import source_photos

    photos = []
    for img in source_photos().values():
        if min(img.size) < 250:
            continue
        img = img.convert("RGB")
        scale = 700 / min(img.size)
        if scale < 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        photos.append(img)
    return photos


def photo_variant(src, rng: np.random.Generator):
    """A 512×512 view of ``src``: a rotated square crop (40–85% of the short side), sharpened
    as a camera does, maybe mirrored, with its gamma, channel gains and saturation shifted."""
    from PIL import Image, ImageEnhance, ImageFilter

    w, h = src.size
    while True:  # a crop whose corners all lie inside the photo
        angle = math.radians(rng.uniform(-30, 30))
        scale = rng.uniform(0.4, 0.85) * min(w, h) / SIDE
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        c, s = math.cos(angle) * scale, math.sin(angle) * scale
        coeffs = (c, -s, cx - (c - s) * SIDE / 2, s, c, cy - (s + c) * SIDE / 2)
        corners = [
            (c * x - s * y + coeffs[2], s * x + c * y + coeffs[5]) for x in (0, SIDE) for y in (0, SIDE)
        ]
        if all(0 <= x <= w and 0 <= y <= h for x, y in corners):
            break
    img = src.transform((SIDE, SIDE), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    img = img.filter(ImageFilter.UnsharpMask(radius=2, percent=100, threshold=2))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ramp = (np.arange(256) / 255) ** rng.uniform(0.7, 1.4)
    lut = np.concatenate([np.clip(255 * g * ramp, 0, 255) for g in rng.uniform(0.85, 1.15, 3)])
    img = img.point(lut.astype(np.uint8).tolist())
    return ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.5))


def make_photos(folder: Path, n: int) -> dict[str, dict]:
    """Write ``n`` JPEGs: different photo views ``photo_*``, and among them ``n // 50`` near
    copies ``near_*`` (resized, re-compressed, cropped or brightened, as the curation tests do)
    and ``n // 100`` byte-for-byte copies ``copy_*`` of some of the views. Returns
    {file: {"source": photo index, "of": the view it copies, or None, "kind": ...}}."""
    from PIL import Image

    from tests.curation_photos import NEAR_TRANSFORMS, transform

    folder.mkdir()
    photos = load_photos()
    rng = np.random.default_rng(1)
    n_near, n_exact = n // 50, n // 100
    views = n - n_near - n_exact
    manifest: dict[str, dict] = {}
    for k in range(views):
        source = int(rng.integers(len(photos)))
        img = photo_variant(photos[source], rng)
        name = f"photo_{k:05d}.jpg"
        img.save(folder / name, "JPEG", quality=int(rng.integers(75, 93)))
        manifest[name] = {"source": source, "of": None, "kind": "photo"}
    picked = rng.choice(views, size=n_near + n_exact, replace=False)
    for m, k in enumerate(picked.tolist()):
        original = f"photo_{k:05d}.jpg"
        if m < n_near:
            kind = NEAR_TRANSFORMS[m % len(NEAR_TRANSFORMS)]
            with Image.open(folder / original) as img:
                altered, quality = transform(img.convert("RGB"), kind)
            name = f"near_{kind}_{k:05d}.jpg"
            altered.save(folder / name, "JPEG", quality=quality)
        else:
            kind, name = "copy", f"copy_{k:05d}.jpg"
            (folder / name).write_bytes((folder / original).read_bytes())
        manifest[name] = {"source": manifest[original]["source"], "of": original, "kind": kind}
    return manifest


# Run by ``manage.py shell -c`` after the import: what curation made; then the curation step
# twice more from the state the import left it in (no clusters, every item's flags empty), timed:
# the first in this fresh process, as in the import, the second warm.
READOUT = """
import json, time
from annotation import curating
from annotation.models import AuditEvent, DuplicateCluster, Item, Project
p = Project.objects.get(slug='bench-curation')
audit = AuditEvent.objects.filter(verb='curation.run').order_by('-pk').first()
clusters = {}
for ext, cid in Item.objects.filter(project=p, cluster__isnull=False).values_list('external_id', 'cluster_id'):
    clusters.setdefault(cid, []).append(ext)
runs = []
for _ in range(2):
    Item.objects.filter(project=p).update(flags={}, cluster=None, cluster_distance=None)
    DuplicateCluster.objects.filter(project=p).delete()
    started = time.perf_counter()
    summary = curating.curation_run(project=p)
    runs.append(time.perf_counter() - started)
print('BENCH ' + json.dumps({'after': audit.after, 'clusters': list(clusters.values()), 'runs_s': runs,
                              'rerun_clusters': summary.clusters, 'rerun_flagged': summary.flagged}))
"""


def score_clusters(clusters: list[list[str]], manifest: dict[str, dict]) -> dict[str, int]:
    """How many planted near copies share a cluster with their original (an exact copy of the
    original stands for it: the import keeps whichever it reads first), how many clusters hold
    no planted copy, and how many join views of different source photos (false matches)."""

    def view(name: str) -> str:
        return manifest[name]["of"] if manifest[name]["kind"] == "copy" else name

    cluster_of = {view(name): k for k, members in enumerate(clusters) for name in members}
    near = {name: f for name, f in manifest.items() if f["kind"] not in ("photo", "copy")}
    found = sum(
        1 for name, f in near.items() if name in cluster_of and cluster_of[name] == cluster_of.get(f["of"])
    )
    planted = {cluster_of[name] for name in near if name in cluster_of}
    other = [members for k, members in enumerate(clusters) if k not in planted]
    mixed = sum(1 for members in clusters if len({manifest[m]["source"] for m in members}) > 1)
    return {"near_copies": len(near), "near_found": found, "other_clusters": len(other),
            "other_items": sum(len(m) for m in other), "mixed": mixed}  # fmt: skip


def run_backend(backend: str, folder: Path, manifest: dict[str, dict]) -> None:
    env = fresh_database(backend)
    setup = (
        "from django.contrib.auth.models import User; from annotation.projects import services;"
        "services.project_create(actor=User.objects.create_user('bench'), name='Bench curation',"
        " slug='bench-curation', item_kind='image')"
    )
    subprocess.run([*MANAGE, "shell", "-c", setup], env=env, check=True, cwd=ROOT, capture_output=True)
    started = time.perf_counter()
    out = subprocess.run([*MANAGE, "import_items", "bench-curation", str(folder)],
                         env=env, check=True, cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    rows, created, skipped, seconds = re.search(
        r"(\d+) rows, (\d+) imported, (\d+) skipped.* in ([\d.]+) s", out.stdout
    ).groups()
    rows, created, skipped, seconds = int(rows), int(created), int(skipped), float(seconds)
    assert created + skipped == rows == len(manifest), out.stdout + out.stderr
    read = subprocess.run(
        [*MANAGE, "shell", "-c", READOUT], env=env, check=True, cwd=ROOT, capture_output=True, text=True
    )
    result = json.loads(read.stdout.split("BENCH ", 1)[1])
    after, score = result["after"], score_clusters(result["clusters"], manifest)
    same = (result["rerun_clusters"], result["rerun_flagged"]) == (after["clusters"], after["flagged"])
    assert same, result  # the re-runs did what the import's run did
    curation_s, warm_s = result["runs_s"]
    flagged = ", ".join(f"{k} {v}" for k, v in after["flagged"].items())
    print(f"{backend:9} {created:5d} created, {skipped} skipped as exact duplicates  import {seconds:6.2f} s = "
          f"{created / seconds:5.0f} images/s   (whole command {wall:5.2f} s)\n"
          f"{'':9} curation step {curation_s:5.2f} s in a fresh process, {warm_s:5.2f} s warm ({after['items']:,} items; without it "
          f"{created / (seconds - curation_s):5.0f} images/s)\n"
          f"{'':9} {after['clusters']} clusters of {after['clustered_items']} items; flagged: {flagged}\n"
          f"{'':9} planted near copies with their original: {score['near_found']}/{score['near_copies']}; "
          f"clusters without a planted copy: {score['other_clusters']} ({score['other_items']} items); "
          f"clusters joining different source photos: {score['mixed']}", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--big-hashes", type=int, default=1_000_000, help="0 leaves the large run out")
    parser.add_argument("--images", type=int, default=2_000, help="0 leaves the import out")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    bench_search(args.hashes, args.big_hashes)
    if not args.images:
        return
    with tempfile.TemporaryDirectory(prefix="quorum-bench-data-") as tmp:
        folder = Path(tmp) / "photos"
        started = time.perf_counter()
        manifest = make_photos(folder, args.images)
        kinds = [f["kind"] for f in manifest.values()]
        print(f"data: {len(manifest):,} JPEGs 512×512 ({sum(p.stat().st_size for p in folder.iterdir()) / 1e6:.1f} MB; "
              f"{kinds.count('photo')} photo views, {len(kinds) - kinds.count('photo') - kinds.count('copy')} near copies, "
              f"{kinds.count('copy')} exact copies) made in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for backend in args.backends.split(","):
            run_backend(backend.strip(), folder, manifest)


if __name__ == "__main__":
    main()
