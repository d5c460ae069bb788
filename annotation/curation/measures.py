"""Curation measures and near-duplicate search: pure functions over Pillow images, strings and
numpy arrays. No Django here; ``annotation.curating`` maps items to arrays and results to rows.

- ``measure_image``: a 64-bit DCT perceptual hash, sharpness (variance of the Laplacian),
  mean brightness, mean chromaticity, and EXIF metadata (capture time, GPS, camera, orientation).
- ``normalize_text`` / ``simhash_texts``: the exact-duplicate key of a text and a 64-bit SimHash.
- ``near_pairs``: every pair of 64-bit hashes within a Hamming distance, by multi-index hashing
  (four 16-bit chunks: two hashes within distance r agree within r // 4 bits on at least one
  chunk), so the work grows with the number of near pairs, not with n². Pairs of images whose
  mean colours differ by more than ``COLOUR_TOLERANCE`` are left out.
- ``clusters``: connected components of the near pairs, each with one representative.
- ``flags``: which measures fall outside the project's thresholds.

Why over 400 lines: Hashing, near-duplicate search and image/text measures are what one curation run computes; all pure.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

import numba
import numpy as np
from PIL import Image

HASH_BITS = 64
CHUNKS = 4
CHUNK_BITS = HASH_BITS // CHUNKS
# Multi-index hashing enumerates every chunk value within r // 4 bits: radius 2 is 137 values.
MAX_DISTANCE = CHUNKS * 3 - 1
MEASURE_SIDE = 512  # sharpness and brightness are measured at this size, so thresholds do not depend on resolution
# Two photos whose hashes are near are not joined when their mean chromaticity differs by more than
# this in r or g: the hash sees only luminance, and smooth photos of different things (a fundus image,
# the moon, a cup of coffee) can share their coarse light and dark layout. Copies that are resized,
# re-compressed, cropped or brightened move by under 0.02; a white-balance shift of ±15% per
# channel by about 0.05.
COLOUR_TOLERANCE = 0.1


# --- images -----------------------------------------------------------------------------------


def _dct_matrix(n: int, k: int) -> np.ndarray:
    """The first ``k`` rows of the orthonormal DCT-II matrix of size ``n``."""
    x = np.arange(n)
    rows = np.cos(np.pi * (2 * x[None, :] + 1) * np.arange(k)[:, None] / (2 * n))
    rows[0] *= np.sqrt(1 / n)
    rows[1:] *= np.sqrt(2 / n)
    return rows


_DCT = _dct_matrix(32, 8)


def phash(image: Image.Image) -> int:
    """64-bit perceptual hash: the 8×8 lowest frequencies of the 32×32 grayscale image's DCT,
    one bit each for being above their median (the DC term left out of the median). Resizing,
    re-compression, small crops and brightness changes move few bits; a mirror image moves many."""
    gray = image if image.mode == "L" else image.convert("L")
    # reducing_gap: box-average down to about twice the size first, then Lanczos; a quarter of the
    # time of Lanczos from the full size, and the low frequencies the hash keeps are the same.
    small = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0), dtype=np.float64)
    low = (_DCT @ small @ _DCT.T).ravel()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


@numba.njit(cache=True, nogil=True)
def _laplacian_moments(g):  # pragma: no cover - compiled
    """The sum and the sum of squares of the 4-neighbour Laplacian over the interior of ``g``,
    in one pass (numpy needed five temporary arrays for it)."""
    total = 0
    squares = 0
    for y in range(1, g.shape[0] - 1):
        for x in range(1, g.shape[1] - 1):
            v = (
                numba.int64(g[y, x - 1]) + numba.int64(g[y, x + 1]) + numba.int64(g[y - 1, x])
                + numba.int64(g[y + 1, x]) - 4 * numba.int64(g[y, x])
            )  # fmt: skip
            total += v
            squares += v * v
    return total, squares


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grayscale uint8 array: low for blurred images."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0  # no interior
    inner = (gray.shape[0] - 2) * (gray.shape[1] - 2)
    # Integer sums are exact: |v| ≤ 1020, so 512×512 squares stay far below 2**63.
    total, squares = _laplacian_moments(np.ascontiguousarray(gray, dtype=np.uint8))
    mean = total / inner
    return float(squares / inner - mean * mean)


def chromaticity(image: Image.Image) -> tuple[float, float] | None:
    """Mean chromaticity (r, g) = (R, G) / (R + G + B) of the pixels that are not near black, from
    a copy at most 64 pixels on its longer side; None for a grayscale image (it has no colour to compare) or an all-black one.
    Brightening, resizing and re-compression barely move it; a different scene usually does."""
    if image.mode != "RGB":
        return None
    small = image.copy()
    small.thumbnail((64, 64), reducing_gap=2.0)
    rgb = np.asarray(small, dtype=np.float64).reshape(-1, 3)
    total = rgb.sum(axis=1)
    lit = total > 30  # near-black pixels have no reliable colour
    if not lit.any():
        return None
    r, g = (rgb[lit, :2] / total[lit, None]).mean(axis=0)
    return round(float(r), 4), round(float(g), 4)


_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _ORIENTATION, _DATETIME, _DATETIME_ORIGINAL = 271, 272, 274, 306, 36867


def _exif_text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    # NUL padding and control characters come from camera firmware; the database refuses NUL.
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:100] or None


def _exif_time(value: Any) -> str | None:
    text = _exif_text(value)
    try:
        return datetime.strptime(text or "", "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _gps_degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not np.isfinite(value):
        return None
    return round(-value if _exif_text(ref) in ("S", "W") else value, 6)


def exif_metadata(image: Image.Image) -> dict[str, Any]:
    """Capture time, GPS position, camera make and model, and orientation, where present."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:  # a broken EXIF block loses its metadata, not the image
        return {}
    out: dict[str, Any] = {}
    taken = _exif_time(sub.get(_DATETIME_ORIGINAL)) or _exif_time(exif.get(_DATETIME))
    if taken:
        out["taken_at"] = taken
    for key, tag in (("camera_make", _MAKE), ("camera_model", _MODEL)):
        if text := _exif_text(exif.get(tag)):
            out[key] = text
    orientation = exif.get(_ORIENTATION)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        out["orientation"] = orientation
    if gps:
        lat, lon = _gps_degrees(gps.get(2), gps.get(1)), _gps_degrees(gps.get(4), gps.get(3))
        if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
            out["gps"] = {"lat": lat, "lon": lon}
    return out


def flat_exif(exif: dict[str, Any]) -> dict[str, Any]:
    """EXIF metadata as flat fields (``gps`` becomes ``gps_lat`` and ``gps_lon``)."""
    out = {k: v for k, v in exif.items() if k != "gps"}
    if gps := exif.get("gps"):
        out["gps_lat"], out["gps_lon"] = gps["lat"], gps["lon"]
    return out


@dataclass(frozen=True)
class ImageMeasures:
    phash: int  # unsigned 64-bit
    sharpness: float
    brightness: float  # mean of the grayscale image, 0–255
    exif: dict[str, Any]
    colour: tuple[float, float] | None = None  # mean chromaticity (r, g); None for grayscale


def measure_image(image: Image.Image, *, oriented: Image.Image) -> ImageMeasures:
    """Measures of one decoded image. ``image`` is the file as decoded (for its EXIF block),
    ``oriented`` the same picture turned upright and scaled to at most ``MEASURE_SIDE`` pixels."""
    gray_image = oriented if oriented.mode == "L" else oriented.convert("L")
    gray = np.asarray(gray_image)
    return ImageMeasures(
        phash=phash(gray_image),
        sharpness=round(sharpness(gray), 2),
        brightness=round(float(gray.mean()), 2) if gray.size else 0.0,
        exif=exif_metadata(image),
        colour=chromaticity(oriented),
    )


# --- text -------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """The key of exact text duplicates: Unicode NFC, case-folded, whitespace collapsed."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return unicodedata.normalize("NFC", " ".join(folded.split()))


def text_words(text: str) -> list[str]:
    return _WORD.findall(normalize_text(text))


def _token_hash(token: str, cache: dict[str, int]) -> int:
    value = cache.get(token)
    if value is None:
        value = cache[token] = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
    return value


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves about half the output bits."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _bit_counts(features, lengths):  # pragma: no cover - compiled
    """Per group of consecutive features (``lengths`` of them), how many have each bit set
    (bit 0 is the most significant, as ``np.packbits`` reads them)."""
    ones = np.zeros((len(lengths), HASH_BITS), dtype=np.int32)
    k = 0
    for g in range(len(lengths)):
        for _ in range(lengths[g]):
            x = features[k]
            k += 1
            for b in range(HASH_BITS):
                ones[g, HASH_BITS - 1 - b] += (x >> numba.uint64(b)) & numba.uint64(1)
    return ones


def simhash_texts(texts: list[str], cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit SimHash of each text over its words and word pairs (uint64; 0 for a text without
    words). Texts that share most of their words get hashes a few bits apart. Words are hashed
    once each (blake2b, cached); word pairs are mixed from their words' hashes in numpy."""
    cache = {} if cache is None else cache
    words: list[str] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for n, text in enumerate(texts):
        found = text_words(text)
        words.extend(found)
        lengths[n] = len(found)
    out = np.zeros(len(texts), dtype=np.uint64)
    if not words:
        return out
    word_h = np.fromiter((_token_hash(w, cache) for w in words), dtype=np.uint64, count=len(words))
    # A pair is (word, next word) within one text: drop the pair that would span two texts.
    with np.errstate(over="ignore"):
        pair_h = _mix(word_h[:-1] * np.uint64(0x9E3779B97F4A7C15) ^ word_h[1:])
    last = np.cumsum(lengths)[lengths > 0] - 1  # index of each text's last word
    keep = np.ones(len(words) - 1, dtype=bool)
    keep[last[last < len(words) - 1]] = False
    pair_lengths = np.maximum(lengths - 1, 0)
    ones = _bit_counts(word_h, lengths) + _bit_counts(pair_h[keep], pair_lengths)
    total = lengths + pair_lengths
    has = total > 0
    out[has] = np.packbits(2 * ones[has] > total[has, None], axis=1).view(">u8").ravel()
    return out


# --- near-duplicate search --------------------------------------------------------------------


def _masks(radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(CHUNK_BITS), r)]
    return np.array(masks, dtype=np.int64)


@numba.njit(cache=True, inline="always")
def _popcount(x):  # pragma: no cover - compiled
    x = x - ((x >> numba.uint64(1)) & numba.uint64(0x5555555555555555))
    x = (x & numba.uint64(0x3333333333333333)) + ((x >> numba.uint64(2)) & numba.uint64(0x3333333333333333))
    x = (x + (x >> numba.uint64(4))) & numba.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * numba.uint64(0x0101010101010101)) >> numba.uint64(56)


@numba.njit(cache=True, nogil=True)
def _probe(hs, order, starts, counts, masks, max_distance, colour, max_colour, parent, out_i, out_j):  # pragma: no cover - compiled
    """The near pairs of one chunk. ``hs`` holds the hashes sorted by their chunk value (``order``
    maps back to indices); bucket ``u`` is ``hs[starts[u]:starts[u] + counts[u]]``. Each bucket is
    compared with the buckets of ``u ^ mask`` above it, and within itself.

    With an empty ``parent`` the pairs are written to ``out_i``/``out_j``; the count is returned,
    or -1 if those are too small. With a ``parent`` (union–find) they are joined there instead,
    so memory stays O(n) however many pairs are near. With a ``colour`` per index (n × 2, NaN
    where unknown), a near pair whose colours differ by more than ``max_colour`` is left out."""
    join = len(parent) > 0
    by_colour = len(colour) > 0
    found = 0
    for u in range(len(counts)):
        if counts[u] == 0:
            continue
        a0, a1 = starts[u], starts[u] + counts[u]
        for m in masks:
            q = u ^ m
            if q < u or counts[q] == 0:
                continue
            b1 = starts[q] + counts[q]
            for a in range(a0, a1):
                ha = hs[a]
                for b in range(a + 1 if q == u else starts[q], b1):
                    if _popcount(ha ^ hs[b]) > max_distance:
                        continue
                    # NaN (an unknown colour) compares False: the pair stays.
                    if by_colour and (
                        abs(colour[order[a], 0] - colour[order[b], 0]) > max_colour
                        or abs(colour[order[a], 1] - colour[order[b], 1]) > max_colour
                    ):
                        continue
                    if join:
                        ra, rb = _root(parent, order[a]), _root(parent, order[b])
                        parent[max(ra, rb)] = min(ra, rb)
                        continue
                    if found == len(out_i):
                        return -1
                    out_i[found] = order[a]
                    out_j[found] = order[b]
                    found += 1
    return found


@numba.njit(cache=True, inline="always")
def _root(parent, x):  # pragma: no cover - compiled
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _colour_bins(c: np.ndarray, max_colour: float) -> np.ndarray:
    """A coarse colour cell per index (-1 where the colour is unknown), or all 0 without colours:
    a crowd's chain runs cell by cell, so neighbours in it are not kept apart by colour."""
    if not len(c):
        return np.zeros(0, dtype=np.int64)
    known = ~np.isnan(c).any(axis=1)
    cells = np.floor(np.where(known[:, None], c, 0.0) / max_colour).astype(np.int64)
    return np.where(known, cells[:, 0] * 1_000_003 + cells[:, 1], -1)


def _chunk_indexes(h: np.ndarray, max_bucket: int, bins: np.ndarray):  # type: ignore[no-untyped-def]
    """Per 16-bit chunk: the hashes sorted by chunk value, the sort order, each value's bucket
    start and size, and the members of crowded buckets (taken out, chained in hash order within
    each colour cell of ``bins``, if any)."""
    for c in range(CHUNKS):
        v = ((h >> np.uint64(c * CHUNK_BITS)) & np.uint64(0xFFFF)).astype(np.int64)
        counts = np.bincount(v, minlength=1 << CHUNK_BITS)
        crowded = counts > max_bucket
        chains = []
        for value in np.flatnonzero(crowded):
            members = np.flatnonzero(v == value)
            keys = (h[members], bins[members]) if len(bins) else (h[members],)
            chains.append(members[np.lexsort(keys)])
        counts[crowded] = 0
        in_crowd = crowded[v]
        order = np.argsort(np.where(in_crowd, -1, v), kind="stable")[int(in_crowd.sum()):]
        starts = np.cumsum(counts) - counts
        # Chains of different crowds are joined end to end; the pair across is checked like any other.
        chain = np.concatenate(chains) if chains else np.zeros(0, dtype=np.int64)
        yield h[order], order, starts, counts, chain


_NO_PARENT = np.zeros(0, dtype=np.int64)


_NO_COLOUR = np.zeros((0, 2), dtype=np.float64)


def _colours(colour: np.ndarray | None, n: int) -> np.ndarray:
    if colour is None:
        return _NO_COLOUR
    c = np.ascontiguousarray(colour, dtype=np.float64)
    if c.shape != (n, 2):
        raise ValueError(f"colour must be {n} × 2, one (r, g) per hash (NaN where unknown)")
    return c


def _colour_apart(c: np.ndarray, i: np.ndarray, j: np.ndarray, max_colour: float) -> np.ndarray:
    """Which pairs the colour check separates (never those with an unknown colour)."""
    if not len(c):
        return np.zeros(len(i), dtype=bool)
    with np.errstate(invalid="ignore"):
        return (np.abs(c[i] - c[j]) > max_colour).any(axis=1)


def near_pairs(
    hashes: np.ndarray,
    max_distance: int,
    *,
    colour: np.ndarray | None = None,
    max_colour: float = COLOUR_TOLERANCE,
    max_bucket: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` with ``popcount(hashes[i] ^ hashes[j]) <= max_distance``, and its
    distance. Multi-index hashing over four 16-bit chunks; the probing loop is compiled.
    With ``colour`` (an (r, g) chromaticity per hash, NaN where unknown), pairs whose colours
    differ by more than ``max_colour`` are left out.

    Hashes that crowd one chunk value (more than ``max_bucket``, as templated texts do) would
    make the search quadratic; such a crowd is compared along the chain of its members in hash
    order instead of all against all, which still joins them when they sit close together.
    """
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be between 0 and {MAX_DISTANCE}")
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(h)
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty, empty
    c = _colours(colour, n)
    found_i: list[np.ndarray] = []
    found_j: list[np.ndarray] = []
    masks = _masks(max_distance // CHUNKS)
    capacity = max(1024, n)
    for hs, order, starts, counts, chain in _chunk_indexes(h, max_bucket, _colour_bins(c, max_colour)):
        found_i.append(chain[:-1])
        found_j.append(chain[1:])
        while True:
            out_i = np.empty(capacity, dtype=np.int64)
            out_j = np.empty(capacity, dtype=np.int64)
            found = _probe(hs, order, starts, counts, masks, max_distance, c, max_colour, _NO_PARENT, out_i, out_j)
            if found >= 0:
                break
            capacity *= 4
        found_i.append(out_i[:found])
        found_j.append(out_j[:found])
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    key = np.unique(np.minimum(i, j) * n + np.maximum(i, j))
    i, j = key // n, key % n
    d = np.bitwise_count(h[i] ^ h[j]).astype(np.int64)
    keep = (d <= max_distance) & ~_colour_apart(c, i, j, max_colour)
    return i[keep], j[keep], d[keep]


def near_pairs_brute(
    hashes: np.ndarray, max_distance: int, *, colour: np.ndarray | None = None, max_colour: float = COLOUR_TOLERANCE
) -> set[tuple[int, int]]:
    """The same pairs by comparing everything with everything: for tests on small sets."""
    h = np.asarray(hashes, dtype=np.uint64)
    d = np.bitwise_count(h[:, None] ^ h[None, :])
    i, j = np.nonzero(np.triu(d <= max_distance, k=1))
    keep = ~_colour_apart(_colours(colour, len(h)), i, j, max_colour)
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True))


@dataclass(frozen=True)
class Cluster:
    members: list[int]  # indices, representative first
    distance: dict[int, int]  # member index -> Hamming distance to the representative


@numba.njit(cache=True)
def _join(parent, a, b):  # pragma: no cover - compiled
    for k in range(len(a)):
        ra, rb = _root(parent, a[k]), _root(parent, b[k])
        parent[max(ra, rb)] = min(ra, rb)


@numba.njit(cache=True)
def _roots(parent):  # pragma: no cover - compiled
    out = np.empty_like(parent)
    for x in range(len(parent)):
        out[x] = _root(parent, x)
    return out


def near_clusters(
    hashes: np.ndarray,
    max_distance: int,
    rank: np.ndarray,
    *,
    colour: np.ndarray | None = None,
    max_colour: float = COLOUR_TOLERANCE,
    max_bucket: int = 256,
) -> list[Cluster]:
    """The clusters of ``clusters`` straight from the hashes (and colours, as ``near_pairs``
    takes them), without listing every near pair: a thousand templated texts that are all near
    each other make one cluster, not half a million pairs."""
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be between 0 and {MAX_DISTANCE}")
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(h)
    c = _colours(colour, n)
    parent = np.arange(n, dtype=np.int64)
    masks = _masks(max_distance // CHUNKS)
    for hs, order, starts, counts, chain in _chunk_indexes(h, max_bucket, _colour_bins(c, max_colour)):
        a, b = chain[:-1], chain[1:]
        near = (np.bitwise_count(h[a] ^ h[b]) <= max_distance) & ~_colour_apart(c, a, b, max_colour)
        _join(parent, a[near], b[near])
        _probe(hs, order, starts, counts, masks, max_distance, c, max_colour, parent, _NO_PARENT, _NO_PARENT)
    return _groups(_roots(parent), h, rank)


def _groups(labels: np.ndarray, h: np.ndarray, rank: np.ndarray) -> list[Cluster]:
    sizes = np.bincount(labels, minlength=len(labels)) if len(labels) else labels
    groups: dict[int, list[int]] = {}
    for idx in np.flatnonzero(sizes[labels] >= 2).tolist():
        groups.setdefault(int(labels[idx]), []).append(idx)
    out = []
    for members in groups.values():
        rep = max(members, key=lambda m: (rank[m], -m))
        ordered = [rep] + sorted(m for m in members if m != rep)
        dist = np.bitwise_count(h[ordered] ^ h[rep]).tolist()
        out.append(Cluster(members=ordered, distance=dict(zip(ordered, dist, strict=True))))
    out.sort(key=lambda c: c.members[0])
    return out


def clusters(
    n: int, i: np.ndarray, j: np.ndarray, hashes: np.ndarray, rank: np.ndarray
) -> list[Cluster]:
    """Connected components (of two or more) of the near pairs. The representative of each is
    its member with the highest ``rank`` (ties: the lowest index)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(i) == 0:
        return []
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return _groups(labels.astype(np.int64), np.asarray(hashes, dtype=np.uint64), rank)


# --- quality flags ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    blur: float  # sharpness below this is blurred
    dark: float  # mean brightness below this is under-exposed
    bright: float  # above this, over-exposed
    min_side: int  # pixels; a shorter side is too small
    min_text_chars: int  # a shorter text is too short


def image_flags(
    *, sharpness: float | None, brightness: float | None, width: int | None, height: int | None, t: Thresholds
) -> dict[str, float]:
    """{flag: the measure that raised it} for blurred, dark, bright and tiny images."""
    out: dict[str, float] = {}
    if sharpness is not None and sharpness < t.blur:
        out["blurry"] = sharpness
    if brightness is not None and brightness < t.dark:
        out["dark"] = brightness
    if brightness is not None and brightness > t.bright:
        out["bright"] = brightness
    if width is not None and height is not None and min(width, height) < t.min_side:
        out["tiny"] = float(min(width, height))
    return out


def text_flags(text: str, t: Thresholds) -> dict[str, float]:
    """{flag: length} for empty (no letters or digits) and too-short texts."""
    if not _WORD.search(text):
        return {"empty": 0.0}
    length = len(normalize_text(text))
    return {"short": float(length)} if length < t.min_text_chars else {}


# The flags curation raises, with the names the pages show.
FLAG_NAMES = {
    "near_duplicate": "Near-duplicates",
    "blurry": "Blurry",
    "dark": "Under-exposed",
    "bright": "Over-exposed",
    "tiny": "Too small",
    "empty": "Empty text",
    "short": "Too short",
}


IMAGE_FLAGS = ("near_duplicate", "blurry", "dark", "bright", "tiny")


TEXT_FLAGS = ("near_duplicate", "empty", "short")
