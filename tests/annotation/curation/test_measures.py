"""Curation measures and near-duplicate search (annotation.curation), and the measures that
ingest.check_image takes, on hand-made cases and on real photos. No database.

Run with -s to see the measured figures (recall, precision, sharpness, SimHash distances)."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from annotation.curation import measures as curation
from annotation.ingest import readers as ingest
from tests import curation_photos

LIMITS = ingest.Limits(
    image_bytes=20_000_000, image_pixels=4_000_000, zip_entries=10, zip_total_bytes=10**8,
    line_bytes=10**6, csv_columns=100, json_depth=8, manifest_bytes=10**8,
)  # fmt: skip
# The project defaults (annotation.models.Project).
DEFAULTS = curation.Thresholds(blur=60.0, dark=40.0, bright=220.0, min_side=64, min_text_chars=10)
NEAR_DISTANCE = 10
# Sources whose content is soft by nature (microscopy, the moon, a fundus photo, a 102-px crop):
# their originals may be flagged blurry without anything being wrong.
SOFT_SOURCES = {"cell", "microaneurysms", "moon", "retina"}


def popcount(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def jpeg(img: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92, **save)
    return out.getvalue()


# --- the real-photo set -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    """The manifest, and {file: CheckedImage or ImageRejected} for every file in it."""
    manifest = curation_photos.build(tmp_path_factory.mktemp("photos"))
    checked: dict[str, ingest.CheckedImage | ingest.ImageRejected] = {}
    for f in manifest.files:
        try:
            checked[f.name] = ingest.check_image((manifest.folder / f.name).read_bytes(), LIMITS)
        except ingest.ImageRejected as exc:
            checked[f.name] = exc
    return manifest, checked


def test_the_photo_set_is_what_its_manifest_says(photo_set):
    manifest, _ = photo_set
    assert len(manifest.sources) >= 20 and "motorcycle_left" in manifest.sources
    assert "motorcycle_right" not in manifest.sources
    assert sorted(p.name for p in manifest.folder.iterdir()) == sorted(f.name for f in manifest.files)
    assert len(manifest.near_duplicates) == len(manifest.sources) * len(curation_photos.TRANSFORMS)
    assert manifest.broken == {"broken_truncated.jpg": "truncated", "broken_fake.jpg": "fake"}


def test_the_photo_set_is_deterministic(photo_set, tmp_path):
    manifest, _ = photo_set
    again = curation_photos.build(tmp_path / "again")
    assert again.files == manifest.files
    for f in manifest.files[:14]:
        assert (tmp_path / "again" / f.name).read_bytes() == (manifest.folder / f.name).read_bytes()


def test_near_duplicates_of_real_photos_are_found_and_unrelated_photos_are_not(photo_set):
    manifest, checked = photo_set
    names = [n for n, c in checked.items() if isinstance(c, ingest.CheckedImage)]
    hashes = np.array([checked[n].measures.phash for n in names], dtype=np.uint64)
    index = {n: k for k, n in enumerate(names)}
    # As curation_run searches: hashes within the distance, colours within the tolerance.
    colour = np.array([checked[n].measures.colour or (np.nan, np.nan) for n in names], dtype=float)
    i, j, d = curation.near_pairs(hashes, NEAR_DISTANCE, colour=colour)
    assert len(curation.near_pairs(hashes, NEAR_DISTANCE)[0]) == len(i)  # the colour check costs no true pair here
    found = {(int(a), int(b)): int(x) for a, b, x in zip(i, j, d, strict=True)}
    rank = np.array([checked[n].width * checked[n].height for n in names])
    groups = curation.clusters(len(names), i, j, hashes, rank)
    cluster_of = {m: c for c, g in enumerate(groups) for m in g.members}

    def pair_found(a: str, b: str) -> bool:
        return (min(index[a], index[b]), max(index[a], index[b])) in found

    def same_cluster(a: str, b: str) -> bool:
        ca, cb = cluster_of.get(index[a]), cluster_of.get(index[b])
        return ca is not None and ca == cb

    by_transform: dict[str, list[tuple[bool, bool, int]]] = {}
    for name, (original, kind) in manifest.near_duplicates.items():
        dist = popcount(checked[name].measures.phash, checked[original].measures.phash)
        by_transform.setdefault(kind, []).append(
            (pair_found(name, original), same_cluster(name, original), dist)
        )
    near = [r for k in curation_photos.NEAR_TRANSFORMS for r in by_transform[k]]
    recall = sum(r[0] for r in near) / len(near)
    cluster_recall = sum(r[1] for r in near) / len(near)
    correct = [manifest.same_photo(names[a], names[b]) for a, b in found]
    precision = sum(correct) / len(correct)
    pure = all(len({manifest.source_of(names[m]) for m in g.members}) == 1 for g in groups)
    unrelated = [
        popcount(int(hashes[a]), int(hashes[b]))
        for a in range(len(names))
        for b in range(a + 1, len(names))
        if not manifest.same_photo(names[a], names[b])
    ]

    print(
        f"\nnear-duplicates at distance ≤ {NEAR_DISTANCE}, {len(manifest.sources)} source photos, {len(names)} files"
    )
    print(
        f"  recall (original, {'/'.join(curation_photos.NEAR_TRANSFORMS)}): pair {recall:.3f}, cluster {cluster_recall:.3f}"
    )
    print(
        f"  precision over {len(found)} found pairs: {precision:.3f}; {len(groups)} clusters, each of one photo: {pure}"
    )
    for kind, rows in by_transform.items():
        dists = sorted(r[2] for r in rows)
        print(
            f"  {kind:10s} pair recall {sum(r[0] for r in rows) / len(rows):.2f}  "
            f"bits from original: median {np.median(dists):.0f}, max {max(dists)}  {dists}"
        )
    missed = [n for n, (o, k) in manifest.near_duplicates.items() if k != "flip" and not pair_found(n, o)]
    print(f"  missed (flip aside): {missed}")
    print(
        f"  unrelated pairs: closest {min(unrelated)} bits, 1st percentile {np.percentile(unrelated, 1):.0f}"
    )

    assert recall >= 0.95
    assert precision >= 0.99
    assert pure
    assert min(unrelated) > NEAR_DISTANCE
    for copy, original in manifest.exact_copies.items():
        assert pair_found(copy, original) and found[tuple(sorted((index[copy], index[original])))] == 0


def test_exact_copies_have_identical_sha256(photo_set):
    manifest, checked = photo_set
    assert manifest.exact_copies
    for copy, original in manifest.exact_copies.items():
        assert checked[copy].sha256 == checked[original].sha256
    readable = [c for c in checked.values() if isinstance(c, ingest.CheckedImage)]
    assert len({c.sha256 for c in readable}) == len(readable) - len(manifest.exact_copies)


def test_broken_files_are_refused_with_a_reason(photo_set):
    manifest, checked = photo_set
    truncated, fake = checked["broken_truncated.jpg"], checked["broken_fake.jpg"]
    assert isinstance(truncated, ingest.ImageRejected) and isinstance(fake, ingest.ImageRejected)
    assert truncated.reason.startswith("image is truncated or corrupted")
    assert fake.reason == "not an image: the content is not JPEG, PNG, WebP or TIFF"
    refused = {n for n, c in checked.items() if isinstance(c, ingest.ImageRejected)}
    assert refused == set(manifest.broken)


def test_blurred_copies_are_flagged_and_sharp_originals_are_not(photo_set):
    manifest, checked = photo_set
    rows = []
    for blurred, original in manifest.blurred.items():
        o, b = checked[original].measures, checked[blurred].measures
        rows.append((manifest.source_of(original), o.sharpness, b.sharpness))
    flags = {
        name: curation.image_flags(
            sharpness=c.measures.sharpness,
            brightness=c.measures.brightness,
            width=c.width,
            height=c.height,
            t=DEFAULTS,
        )
        for name, c in checked.items()
        if isinstance(c, ingest.CheckedImage)
    }
    blurry_originals = sorted(s for s in manifest.sources if "blurry" in flags[manifest.original(s)])
    print(
        f"\nsharpness (variance of the Laplacian at ≤ {curation.MEASURE_SIDE} px), blur threshold {DEFAULTS.blur}"
    )
    for source, o, b in sorted(rows, key=lambda r: r[1]):
        print(f"  {source:20s} original {o:8.1f}   blurred (r=4) {b:6.1f}")
    sharp = [o for s, o, _ in rows if s not in SOFT_SOURCES]
    print(f"  originals flagged blurry: {len(blurry_originals)}/{len(rows)} {blurry_originals}")
    print(f"  sharp originals: min {min(sharp):.0f}; blurred copies: max {max(b for *_, b in rows):.1f}")
    other = sorted((n, f) for n, f in flags.items() if set(f) - {"blurry"})
    print(f"  other flags at the defaults: {other}")

    assert all("blurry" in flags[name] for name in manifest.blurred)
    assert set(blurry_originals) <= SOFT_SOURCES
    assert len(blurry_originals) <= len(rows) // 4
    for source, o, b in rows:
        assert b < o
        if source not in SOFT_SOURCES:
            assert b < o / 20, source


# --- near_pairs against the brute force -----------------------------------------------------------


def clumped_hashes(rng: np.random.Generator, n: int, centres: int, max_flips: int) -> np.ndarray:
    """``n`` hashes around a few random centres, each a few random bits away; some repeat."""
    bases = rng.integers(0, 2**64, size=centres, dtype=np.uint64)
    out = np.empty(n, dtype=np.uint64)
    for k in range(n):
        bits = rng.choice(64, size=rng.integers(0, max_flips + 1), replace=False)
        out[k] = bases[rng.integers(centres)] ^ np.uint64(sum(1 << int(b) for b in bits))
    out[rng.choice(n, size=n // 10, replace=False)] = out[rng.choice(n, size=n // 10, replace=False)]
    return out


def assert_same_as_brute(hashes: np.ndarray, max_distance: int, **kwargs: int) -> None:
    i, j, d = curation.near_pairs(hashes, max_distance, **kwargs)
    pairs = list(zip(i.tolist(), j.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)
    assert set(pairs) == curation.near_pairs_brute(hashes, max_distance)
    assert all(a < b for a, b in pairs)
    h = [int(x) for x in hashes]
    assert d.tolist() == [popcount(h[a], h[b]) for a, b in pairs]


@pytest.mark.parametrize("max_distance", range(12))
def test_near_pairs_equals_brute_force(max_distance):
    rng = np.random.default_rng(max_distance)
    assert_same_as_brute(clumped_hashes(rng, 400, centres=25, max_flips=14), max_distance)


@pytest.mark.parametrize("n", [0, 1, 2])
@pytest.mark.parametrize("max_distance", [0, 5, 11])
def test_near_pairs_of_tiny_inputs(n, max_distance):
    hashes = np.array([0, 1][:n], dtype=np.uint64)
    i, j, d = curation.near_pairs(hashes, max_distance)
    assert [i.tolist(), j.tolist(), d.tolist()] == (
        [[0], [1], [1]] if n == 2 and max_distance >= 1 else [[], [], []]
    )


def test_near_pairs_of_identical_and_extreme_hashes():
    hashes = np.array([2**64 - 1, 0, 2**64 - 1, 2**64 - 1, 2**63], dtype=np.uint64)
    assert_same_as_brute(hashes, 0)
    i, j, _ = curation.near_pairs(hashes, 0)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (0, 3), (2, 3)]


def test_near_pairs_with_more_pairs_than_its_first_output_buffer():
    hashes = np.full(100, 5, dtype=np.uint64)  # 4,950 pairs in one bucket; the buffer starts at 1,024
    assert_same_as_brute(hashes, 0)


@pytest.mark.parametrize("max_distance", [-1, 12])
def test_near_pairs_refuses_distances_it_cannot_search(max_distance):
    with pytest.raises(ValueError, match="between 0 and 11"):
        curation.near_pairs(np.zeros(3, dtype=np.uint64), max_distance)


@settings(max_examples=150, deadline=None)
@given(
    centres=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=6),
    members=st.lists(st.tuples(st.integers(0, 5), st.sets(st.integers(0, 63), max_size=12)), max_size=40),
    max_distance=st.integers(0, 11),
)
def test_near_pairs_equals_brute_force_on_any_input(centres, members, max_distance):
    hashes = np.array(
        [centres[c % len(centres)] ^ sum(1 << b for b in bits) for c, bits in members], dtype=np.uint64
    )
    assert_same_as_brute(hashes, max_distance)


def test_a_crowded_chunk_still_gives_only_true_pairs_and_all_of_them_when_other_chunks_can_tell():
    # 120 hashes share their lowest 16-bit chunk (a bucket over max_bucket): templated texts do this.
    rng = np.random.default_rng(7)
    high = clumped_hashes(rng, 120, centres=6, max_flips=6) & np.uint64(~0xFFFF & (2**64 - 1))
    # Pairs within 8 bits that agree on one chunk differ in ≤ 2 bits on one of the other three,
    # which the search probes as usual (if they are not crowded too): nothing may be lost.
    other_chunks = [(high >> np.uint64(16 * c)) & np.uint64(0xFFFF) for c in (1, 2, 3)]
    max_bucket = max(int(np.unique(v, return_counts=True)[1].max()) for v in other_chunks)
    assert max_bucket < 120
    assert_same_as_brute(high, 8, max_bucket=max_bucket)
    # Crowd two chunks: the crowd is only chained, so pairs may be missed, never invented.
    both = high & np.uint64(~0xFFFF_FFFF & (2**64 - 1))
    for max_distance in (3, 11):
        i, j, d = curation.near_pairs(both, max_distance, max_bucket=10)
        pairs = set(zip(i.tolist(), j.tolist(), strict=True))
        assert pairs <= curation.near_pairs_brute(both, max_distance)
        assert d.tolist() == [popcount(int(both[a]), int(both[b])) for a, b in zip(i, j, strict=True)]
        assert all(x <= max_distance for x in d.tolist())
    # The chain still joins identical hashes in the crowd.
    same = np.full(30, 0xABCD_0000_0000_0000, dtype=np.uint64)
    i, j, _ = curation.near_pairs(same, 0, max_bucket=10)
    assert len(curation.clusters(30, i, j, same, np.zeros(30))) == 1


# --- clusters -------------------------------------------------------------------------------------


def test_clusters_join_transitively_and_are_led_by_the_highest_rank():
    top = 0xFFFF << 48
    hashes = np.array([0b0, 0b1, 0b11, top, top | 1, 0x0F0F_0F0F_0F0F_0F0F], dtype=np.uint64)
    i, j, _ = curation.near_pairs(hashes, 1)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 2), (3, 4)]
    groups = curation.clusters(6, i, j, hashes, rank=np.array([1, 5, 2, 0, 0, 9]))
    assert [g.members for g in groups] == [[1, 0, 2], [3, 4]]
    assert [g.distance for g in groups] == [{1: 0, 0: 1, 2: 1}, {3: 0, 4: 1}]  # ties: lowest index


def test_cluster_representative_distance_is_to_the_representative_not_the_neighbour():
    hashes = np.array([0b1111, 0b0111, 0b0011, 0b0001], dtype=np.uint64)  # a chain, one bit per step
    i, j, _ = curation.near_pairs(hashes, 1)
    (group,) = curation.clusters(4, i, j, hashes, rank=np.array([0, 0, 0, 1]))
    assert group.members == [3, 0, 1, 2]
    assert group.distance == {3: 0, 0: 3, 1: 2, 2: 1}


def random_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """(r, g) per hash from a few well-separated tints, a fifth unknown (NaN, as for grayscale)."""
    tints = np.array([[0.33, 0.33], [0.45, 0.30], [0.25, 0.40]])
    colour = tints[rng.integers(len(tints), size=n)] + rng.uniform(-0.01, 0.01, size=(n, 2))
    colour[rng.random(n) < 0.2] = np.nan
    return colour


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), max_distance=st.integers(0, 11), with_colour=st.booleans())
def test_near_clusters_are_the_connected_components_of_near_pairs(seed, max_distance, with_colour):
    rng = np.random.default_rng(seed)
    hashes = clumped_hashes(rng, 300, centres=20, max_flips=12)
    colour = random_colours(rng, len(hashes)) if with_colour else None
    rank = rng.random(len(hashes))
    i, j, _ = curation.near_pairs(hashes, max_distance, colour=colour)
    expected = curation.clusters(len(hashes), i, j, hashes, rank)
    assert curation.near_clusters(hashes, max_distance, rank, colour=colour) == expected


def test_near_pairs_with_colours_equal_brute_force():
    rng = np.random.default_rng(3)
    hashes = clumped_hashes(rng, 400, centres=25, max_flips=10)
    colour = random_colours(rng, len(hashes))
    for max_distance in (0, 6, 10):
        i, j, _ = curation.near_pairs(hashes, max_distance, colour=colour)
        pairs = set(zip(i.tolist(), j.tolist(), strict=True))
        assert pairs == curation.near_pairs_brute(hashes, max_distance, colour=colour)
        assert pairs < curation.near_pairs_brute(hashes, max_distance) or max_distance == 0


def test_colours_apart_keep_equal_hashes_apart_and_unknown_colours_do_not():
    hashes = np.zeros(4, dtype=np.uint64)  # all identical
    colour = np.array([[0.33, 0.33], [0.50, 0.30], [np.nan, np.nan], [0.35, 0.32]])
    i, j, _ = curation.near_pairs(hashes, 0, colour=colour)
    # 0–1 differ by 0.17 in r: apart. 2 has no colour (grayscale): near both. 0–3 within 0.1.
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (0, 3), (1, 2), (2, 3)]
    (group,) = curation.near_clusters(hashes, 0, np.arange(4.0), colour=colour)
    assert sorted(group.members) == [0, 1, 2, 3]  # joined through the grayscale one, as components are
    assert curation.near_pairs(hashes, 0, colour=colour, max_colour=0.2)[0].size == 6
    with pytest.raises(ValueError, match="one \\(r, g\\) per hash"):
        curation.near_pairs(hashes, 0, colour=colour[:3])


def test_a_crowd_of_equal_hashes_in_two_colours_makes_two_clusters():
    # 600 flat slides in two alternating tints share every chunk value: the crowd is chained, not
    # compared all against all, and the chain must not alternate colours or nothing would join.
    hashes = np.full(600, 0x1234_5678_9ABC_DEF0, dtype=np.uint64)
    colour = np.where((np.arange(600) % 2 == 0)[:, None], [0.45, 0.30], [0.25, 0.40])
    colour[::50] = np.nan  # a few grayscale ones among them
    groups = curation.near_clusters(hashes, 0, np.zeros(600), colour=colour)
    assert sorted(len(g.members) for g in groups) == [288, 312]  # the 12 grayscale ones join one tint
    tinted = [g for g in groups if not np.isnan(colour[g.members]).any()]
    for g in tinted:  # a cluster without a grayscale member is all of one tint
        assert len({tuple(colour[m]) for m in g.members}) == 1
    i, j, _ = curation.near_pairs(hashes, 0, colour=colour)
    assert len(i) >= 590 and not _colour_apart_pairs(colour, i, j)


def _colour_apart_pairs(colour: np.ndarray, i: np.ndarray, j: np.ndarray) -> int:
    with np.errstate(invalid="ignore"):
        return int((np.abs(colour[i] - colour[j]) > curation.COLOUR_TOLERANCE).any(axis=1).sum())


def test_chromaticity_of_grey_colour_dark_and_brightened_photos(photo_set):
    assert curation.chromaticity(Image.new("L", (50, 50), 128)) is None
    assert curation.chromaticity(Image.new("RGB", (50, 50), (0, 0, 0))) is None  # nothing lit
    assert curation.chromaticity(Image.new("RGB", (50, 50), (200, 0, 0))) == (1.0, 0.0)
    assert curation.chromaticity(Image.new("RGB", (50, 50), (90, 90, 90))) == (0.3333, 0.3333)
    manifest, checked = photo_set
    moved = []
    for name, (original, kind) in manifest.near_duplicates.items():
        a, b = checked[name].measures.colour, checked[original].measures.colour
        assert (a is None) == (b is None), name  # a grayscale photo stays grayscale
        if a is not None and kind in curation_photos.NEAR_TRANSFORMS:
            moved.append(max(abs(a[0] - b[0]), abs(a[1] - b[1])))
    assert moved and max(moved) < 0.02 < curation.COLOUR_TOLERANCE


def test_no_pairs_no_clusters():
    empty = np.zeros(0, dtype=np.int64)
    assert curation.clusters(3, empty, empty, np.zeros(3, dtype=np.uint64), np.zeros(3)) == []


# --- sharpness, flags -----------------------------------------------------------------------------


def test_sharpness_by_hand():
    checker = (np.indices((6, 6)).sum(axis=0) % 2).astype(np.uint8)
    assert curation.sharpness(checker) == 16.0  # the Laplacian is ±4 everywhere inside
    assert curation.sharpness(np.full((6, 6), 200, dtype=np.uint8)) == 0.0
    assert curation.sharpness(np.zeros((2, 9), dtype=np.uint8)) == 0.0  # no interior


def laplacian_variance(gray: np.ndarray) -> float:
    """The definition, in numpy: the reference for the compiled one-pass version."""
    g = gray.astype(np.float64)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 40), st.integers(3, 40), st.integers(0, 2**32 - 1))
def test_sharpness_is_the_variance_of_the_laplacian(rows, cols, seed):
    gray = np.random.default_rng(seed).integers(0, 256, size=(rows, cols), dtype=np.uint8)
    assert curation.sharpness(gray) == pytest.approx(laplacian_variance(gray), rel=1e-9, abs=1e-9)


def test_image_flags_by_hand():
    t = DEFAULTS
    assert curation.image_flags(sharpness=59.5, brightness=30, width=50, height=500, t=t) == {
        "blurry": 59.5,
        "dark": 30,
        "tiny": 50.0,
    }
    assert curation.image_flags(sharpness=100, brightness=221, width=64, height=64, t=t) == {"bright": 221}
    assert curation.image_flags(sharpness=None, brightness=None, width=None, height=None, t=t) == {}


# --- EXIF -----------------------------------------------------------------------------------------


def exif_photo(*, make="Canon", lat_ref="N", lon_ref="E", orientation=6, **extra) -> bytes:
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = make, "EOS 5D Mark IV", orientation
    exif.get_ifd(0x8769)[36867] = "2021:06:01 12:30:45"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = lat_ref, (IFDRational(52, 1), IFDRational(31, 1), IFDRational(12, 1))
    gps[3], gps[4] = lon_ref, (IFDRational(13, 1), IFDRational(24, 1), IFDRational(1, 2))
    for tag, value in extra.items():
        exif[int(tag[1:])] = value
    return jpeg(Image.new("RGB", (40, 30), "teal"), exif=exif)


def exif_of(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as img:
        return curation.exif_metadata(img)


def test_exif_metadata_is_read():
    assert exif_of(exif_photo()) == {
        "taken_at": "2021-06-01T12:30:45",
        "camera_make": "Canon",
        "camera_model": "EOS 5D Mark IV",
        "orientation": 6,
        "gps": {"lat": 52.52, "lon": 13.400139},
    }
    assert ingest.check_image(exif_photo(), LIMITS).measures.exif == exif_of(exif_photo())


def test_southern_and_western_coordinates_are_negative():
    assert exif_of(exif_photo(lat_ref="S", lon_ref="W"))["gps"] == {"lat": -52.52, "lon": -13.400139}


def test_nul_padded_camera_strings_are_cleaned():
    meta = exif_of(exif_photo(make="NIKON CORPORATION\x00\x00\x00\x00"))
    assert meta["camera_make"] == "NIKON CORPORATION"


def test_an_orientation_out_of_range_is_left_out():
    assert "orientation" not in exif_of(exif_photo(orientation=9))


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize(
    "exif",
    [b"", b"Exif\x00\x00garbage", b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"],
    ids=["none", "garbage", "ifd-past-the-end"],
)
def test_missing_or_broken_exif_gives_nothing(exif):
    data = jpeg(Image.new("RGB", (40, 30), "teal"), exif=exif)
    assert exif_of(data) == {}
    assert ingest.check_image(data, LIMITS).measures.exif == {}


def test_a_photo_stored_on_its_side_is_measured_upright(photo_set):
    manifest, _ = photo_set
    with Image.open(manifest.folder / manifest.original("chelsea")) as img:
        upright = img.convert("RGB")
    exif = Image.Exif()
    exif[274] = 6  # "turn 90° clockwise to view": the pixels are stored turned counter-clockwise
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    flat, turned = (
        ingest.check_image(jpeg(upright), LIMITS),
        ingest.check_image(jpeg(sideways, exif=exif), LIMITS),
    )
    assert turned.measures.exif["orientation"] == 6
    distance = popcount(flat.measures.phash, turned.measures.phash)
    unturned = popcount(flat.measures.phash, ingest.check_image(jpeg(sideways), LIMITS).measures.phash)
    print(f"\norientation 6: {distance} bits from the upright photo; {unturned} bits without the tag")
    assert distance <= 4
    assert unturned > NEAR_DISTANCE
    with Image.open(io.BytesIO(turned.thumbnail_jpeg)) as thumb:
        assert thumb.size == Image.open(io.BytesIO(flat.thumbnail_jpeg)).size == (256, 170)


def test_a_large_photo_is_decoded_small_but_keeps_its_size_and_its_hash(photo_set, monkeypatch):
    """A JPEG over twice MEASURE_SIDE on both sides is decoded at a reduced scale (draft); the
    item still gets the file's full upright size, the same measures as the photo at its own size,
    and a truncated copy is still refused."""
    from PIL.JpegImagePlugin import JpegImageFile

    decoded: list[tuple[int, int]] = []
    draft = JpegImageFile.draft

    def spy(self, mode, size):  # type: ignore[no-untyped-def]
        result = draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    manifest, _ = photo_set
    with Image.open(manifest.folder / manifest.original("chelsea")) as img:
        small = img.convert("RGB")
    large = small.resize((2400, 1600), Image.Resampling.LANCZOS)
    exif = Image.Exif()
    exif[274] = 6
    data = jpeg(large.transpose(Image.Transpose.ROTATE_90), exif=exif)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.size == (1600, 2400)  # stored on its side
    checked, reference = ingest.check_image(data, LIMITS), ingest.check_image(jpeg(small), LIMITS)
    assert decoded[0] == (800, 1200)  # 1600×2400 stored, decoded at half (at least 512 a side)
    assert (checked.width, checked.height) == (2400, 1600)
    assert popcount(checked.measures.phash, reference.measures.phash) <= 4
    assert abs(checked.measures.brightness - reference.measures.brightness) < 3
    with Image.open(io.BytesIO(checked.thumbnail_jpeg)) as thumb:
        assert thumb.size == (256, 171)
    with pytest.raises(ingest.ImageRejected, match="truncated or corrupted"):
        ingest.check_image(data[: len(data) * 3 // 4], LIMITS)


# --- text -----------------------------------------------------------------------------------------


def test_normalize_text_folds_case_whitespace_and_composition():
    composed, decomposed = "  Café\tAU   lait\n", "cafe\u0301 au LAIT"
    assert composed != decomposed and "\u0301" in decomposed
    assert curation.normalize_text(composed) == curation.normalize_text(decomposed) == "café au lait"
    assert curation.normalize_text("Straße") == "strasse"
    assert ingest.text_hash(composed) == ingest.text_hash(decomposed) == ingest.text_hash("CAFÉ AU LAIT")
    assert ingest.text_hash("café au lait") != ingest.text_hash("cafe au lait")


SENTENCES = [
    "The annotators were asked to read each short customer review carefully and decide whether the overall "
    "opinion expressed about the product was positive negative or mixed",
    "After the storm passed the fishermen returned to the harbour to repair their nets and count the boats "
    "that had been damaged by the strong winds during the night",
    "Our team measured the temperature of the river every morning for three weeks in order to understand how "
    "the new dam upstream changed the water flowing through town",
    "She opened the old wooden box in the attic and found a bundle of letters written by her grandmother to a "
    "friend who had moved to another country long ago",
    "The committee will meet again next Thursday afternoon to review the budget proposal and vote on whether "
    "to fund the library renovation planned for the coming spring",
    "Please remember to bring a valid photo identification card and your printed confirmation email when you "
    "arrive at the front desk of the conference centre tomorrow",
]
SWAPS = [("positive", "favourable"), ("harbour", "port"), ("river", "stream"), ("letters", "postcards"),
         ("budget", "spending"), ("valid", "current")]  # fmt: skip


def distance(a: str, b: str) -> int:
    ha, hb = curation.simhash_texts([a, b]).tolist()
    return popcount(ha, hb)


def test_simhash_keeps_near_identical_sentences_close_and_unrelated_ones_far():
    near = [distance(s, s.replace(old, new, 1)) for s, (old, new) in zip(SENTENCES, SWAPS, strict=True)]
    every_word = [
        distance(s, " ".join(w if k != p else "zebra" for k, w in enumerate(s.split())))
        for s in SENTENCES
        for p in range(len(s.split()))
    ]
    hashes = curation.simhash_texts(SENTENCES).tolist()
    unrelated = [popcount(a, b) for k, a in enumerate(hashes) for b in hashes[k + 1 :]]
    within = np.mean(np.array(every_word) <= NEAR_DISTANCE)
    print(
        f"\nSimHash, one word changed in a {min(len(s.split()) for s in SENTENCES)}–"
        f"{max(len(s.split()) for s in SENTENCES)}-word sentence: {near} bits"
    )
    print(
        f"  every word position in turn ({len(every_word)} cases): median {np.median(every_word):.0f}, "
        f"max {max(every_word)}, within {NEAR_DISTANCE}: {within:.2f}, histogram {Counter(sorted(every_word))}"
    )
    print(f"  unrelated sentences: {sorted(unrelated)}")
    assert sum(x <= NEAR_DISTANCE for x in near) > len(near) / 2
    assert within > 0.5
    assert min(unrelated) > curation.MAX_DISTANCE
    assert distance(SENTENCES[0], "  " + SENTENCES[0].upper().replace(" ", "\n")) == 0


def test_simhash_of_texts_without_words_is_zero():
    hashes = curation.simhash_texts(["", "   ", "!!!", "one"])
    assert hashes.dtype == np.uint64
    assert hashes[:3].tolist() == [0, 0, 0] and hashes[3] != 0
    assert curation.simhash_texts([]).tolist() == []


def test_simhash_does_not_depend_on_the_batch():
    alone = curation.simhash_texts([SENTENCES[2]])[0]
    assert curation.simhash_texts(["", SENTENCES[0], SENTENCES[2]])[2] == alone


@pytest.mark.parametrize(
    "text,flags",
    [("   ", {"empty": 0.0}), ("!!!", {"empty": 0.0}), ("", {"empty": 0.0}), ("ok  then", {"short": 7.0}),
     ("a sentence of words", {}), ("  0123456789 ", {})],
)  # fmt: skip
def test_text_flags(text, flags):
    assert curation.text_flags(text, DEFAULTS) == flags
