"""Box consensus on real tree boxes: simulated annotators, merged, scored against the true boxes.

    .venv/bin/python bench/boxes.py [--seeds 10] [--jitter 0.05] [--label-noise 0.0]

The true boxes are DeepForest's hand-drawn tree crowns (tests/data/deepforest: four aerial images,
951 boxes labelled Tree, Dead or Alive). The two large images are cut into tiles of about 400 px,
DeepForest's own patch size, so there are 47 items; a box belongs to the tile holding its centre
and is clipped to it.

Annotators (as issue 23 asks): a pool of four good ones and one worse. Each image gets the worse
one and two to four of the good ones (3–5 in all, drawn per image). A good annotator moves each
edge of a box by a normal error of 5% of the box's size (``--jitter``; the worse: twice that),
misses a box with probability 10% (20%), adds spurious boxes — 5% (10%) of the image's box count
on average, placed at random, sized like a real box of the image — and, with ``--label-noise p``,
gives a wrong label with probability p (2p). Every simulated answer passes
``annotation.answers.boxes.check_answer``.

Scored per seed, pooled over all items, against the true boxes, each method's boxes paired to the
true ones by the Hungarian method at IoU ≥ 0.5 with the same label: **F1@0.5**, and **mean IoU**
of those pairs. Methods, on the same votes:

- ``best single``: the best annotator of the pool by F1 (and separately by mean IoU);
- ``Quorum``: ``consensus.fusion.fuse_boxes`` with its defaults (quorum 0.5, match IoU 0.5) and
  the weights ``consensus.fusion.box_weights`` estimates from the same votes, no truth used:
  reliability (each annotator's mean similarity to a first, equally weighted fusion) for the votes
  on whether a box is there and its label, localisation spread (three-cornered hat) for the corners;
- ``Quorum, reliability only``: the same without the spread (corners weighted by reliability);
- ``Quorum, equal weights``: the first, equally weighted fusion;
- ``WBF``: ``ensemble_boxes.weighted_boxes_fusion`` on the same answers (one "model" per
  annotator, every box score 1, ``iou_thr`` 0.5 like ours), keeping fused boxes whose score —
  there the weighted share of annotators in the cluster — reaches the same quorum 0.5; with the
  same reliability weights, with ``1 / spread²`` (it takes one weight per model, for both the
  average and the score), and with equal weights.

Targets (issue 23): mean IoU ≥ 0.9, F1@0.5 ≥ 0.95, both above the best single annotator.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from annotation.answers import boxes  # noqa: E402
from bench import simulated_crowd  # noqa: E402
from consensus import fusion  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "deepforest"
TILE = 400
LABELS = ("tree", "dead", "alive")
JITTER = 0.05  # a good annotator's edge error, as a share of the box's size
QUORUM = fusion.QUORUM
Answer = list[dict[str, Any]]


@dataclass(frozen=True)
class Tile:
    name: str
    width: int
    height: int
    truth: Answer


def load_tiles(size: int = TILE) -> list[Tile]:
    """The VOC files' boxes, cut into tiles of about ``size`` pixels."""
    tiles: list[Tile] = []
    files = sorted(DATA.glob("*.xml"))
    assert files, f"the DeepForest boxes are missing: {DATA}"
    for path in files:
        root = ET.parse(path).getroot()
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        found = [
            (o.findtext("name").lower(), *(float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")))
            for o in root.iter("object")
        ]  # fmt: skip
        xs = np.linspace(0, width, max(1, round(width / size)) + 1).round().astype(int)
        ys = np.linspace(0, height, max(1, round(height / size)) + 1).round().astype(int)
        for row, (top, bottom) in enumerate(zip(ys[:-1], ys[1:], strict=True)):
            for col, (left, right) in enumerate(zip(xs[:-1], xs[1:], strict=True)):
                truth = []
                for label, x1, y1, x2, y2 in found:
                    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
                    if not (left <= cx < right and top <= cy < bottom):
                        continue
                    a1, b1 = max(x1, left) - left, max(y1, top) - top
                    a2, b2 = min(x2, right) - left, min(y2, bottom) - top
                    truth.append({"x": a1, "y": b1, "w": a2 - a1, "h": b2 - b1, "label": label})
                w, h = int(right - left), int(bottom - top)
                truth = boxes.check_answer(truth, LABELS, width=w, height=h, version=1)
                tiles.append(Tile(f"{path.stem}[{row},{col}]", w, h, truth))
    return tiles


@dataclass(frozen=True)
class Persona:
    jitter: float
    miss: float
    spurious: float
    label_noise: float


def personas(label_noise: float, jitter: float = JITTER) -> list[Persona]:
    """Four good annotators and, last, the worse one (twice the error rates of the good ones)."""
    return [Persona(jitter, 0.10, 0.05, label_noise)] * 4 + [Persona(2 * jitter, 0.20, 0.10, 2 * label_noise)]


def annotate(tile: Tile, who: Persona, rng: np.random.Generator) -> Answer:
    """One simulated annotator's answer to a tile."""
    drawn: list[tuple[float, float, float, float, str]] = []
    for t in tile.truth:
        if rng.random() < who.miss:
            continue
        x1, y1, x2, y2 = t["x"], t["y"], t["x"] + t["w"], t["y"] + t["h"]
        dx, dy = rng.normal(0, who.jitter * t["w"], 2), rng.normal(0, who.jitter * t["h"], 2)
        label = t["label"]
        if rng.random() < who.label_noise:
            label = str(rng.choice([lab for lab in LABELS if lab != label]))
        drawn.append((x1 + dx[0], y1 + dy[0], x2 + dx[1], y2 + dy[1], label))
    sizes = tile.truth or [{"w": 40.0, "h": 40.0, "label": LABELS[0]}]
    for _ in range(rng.poisson(who.spurious * max(len(tile.truth), 1))):
        like = sizes[rng.integers(len(sizes))]
        x, y = rng.uniform(0, tile.width - like["w"]), rng.uniform(0, tile.height - like["h"])
        drawn.append((x, y, x + like["w"], y + like["h"], like["label"]))
    answer = []
    for x1, y1, x2, y2, label in drawn:
        x1, x2 = sorted((min(max(x1, 0.0), tile.width), min(max(x2, 0.0), tile.width)))
        y1, y2 = sorted((min(max(y1, 0.0), tile.height), min(max(y2, 0.0), tile.height)))
        if x2 - x1 < boxes.MIN_SIDE + 0.01 or y2 - y1 < boxes.MIN_SIDE + 0.01:
            continue  # a box squeezed against the edge to nothing: not drawn
        # Rounded down so that rounding never takes a box past the image's edge.
        x1, y1 = math.floor(x1 * 100) / 100, math.floor(y1 * 100) / 100
        w, h = math.floor((x2 - x1) * 100) / 100, math.floor((y2 - y1) * 100) / 100
        box = {"x": x1, "y": y1, "w": w, "h": h, "label": label}
        if box not in answer:
            answer.append(box)
    return boxes.check_answer(answer, LABELS, width=tile.width, height=tile.height, version=1)


def simulate_votes(
    tiles: list[Tile], seed: int, label_noise: float = 0.0, jitter: float = JITTER
) -> list[dict[int, Answer]]:
    """Per tile, annotator (0–3 good, 4 worse) → answer: the worse one and 2–4 good ones."""
    rng = np.random.default_rng(seed)
    pool = personas(label_noise, jitter)
    return [{k: annotate(tile, pool[k], rng) for k in simulated_crowd.draw_annotators(rng)} for tile in tiles]


@dataclass(frozen=True)
class Score:
    mean_iou: float
    f1: float
    precision: float
    recall: float


def score(found: list[Answer], tiles: list[Tile], only: list[bool] | None = None) -> Score:
    """Pooled over the tiles (those marked in ``only``): pairs at IoU ≥ 0.5, same label."""
    pairs = marked = true = 0
    overlap = 0.0
    for n, (answer, tile) in enumerate(zip(found, tiles, strict=True)):
        if only is not None and not only[n]:
            continue
        c = boxes.compare(answer, tile.truth, min_iou=0.5)
        pairs, overlap = pairs + c.pairs, overlap + c.overlap
        marked, true = marked + c.size_a, true + c.size_b
    precision = pairs / marked if marked else math.nan
    recall = pairs / true if true else math.nan
    return Score(overlap / pairs if pairs else math.nan, 2 * pairs / (marked + true), precision, recall)


def quorum_fusion(
    votes: list[dict[int, Answer]], weights: np.ndarray | None, spread: np.ndarray | None = None
) -> list[Answer]:
    def pick(values: np.ndarray | None, v: dict[int, Answer]) -> np.ndarray | None:
        return None if values is None else values[list(v)]

    return [
        fusion.fuse_boxes(list(v.values()), weights=pick(weights, v), spread=pick(spread, v)).value
        for v in votes
    ]


def wbf(votes: list[dict[int, Answer]], tiles: list[Tile], weights: np.ndarray) -> list[Answer]:
    """``ensemble_boxes.weighted_boxes_fusion`` on the same answers, kept at the same quorum."""
    from ensemble_boxes import weighted_boxes_fusion

    out = []
    for v, tile in zip(votes, tiles, strict=True):
        scale = np.array([tile.width, tile.height, tile.width, tile.height], dtype=float)
        boxes_list = [boxes.corners(a).reshape(-1, 4) / scale for a in v.values()]
        labels_list = [[LABELS.index(b["label"]) for b in a] for a in v.values()]
        scores_list = [[1.0] * len(a) for a in v.values()]
        if not any(len(b) for b in boxes_list):
            out.append([])
            continue
        fused, scores, labels = weighted_boxes_fusion(
            boxes_list,
            scores_list,
            labels_list,
            weights=list(weights[list(v)]),
            iou_thr=0.5,
            skip_box_thr=0.0,
        )
        answer = []
        for (x1, y1, x2, y2), s, lab in zip(fused * scale, scores, labels, strict=True):
            if s >= QUORUM - 1e-6:
                answer.append(
                    {
                        "x": float(x1),
                        "y": float(y1),
                        "w": float(x2 - x1),
                        "h": float(y2 - y1),
                        "label": LABELS[int(lab)],
                    }
                )
        out.append(answer)
    return out


def run(seed: int, tiles: list[Tile], label_noise: float = 0.0, jitter: float = JITTER) -> dict[str, Score]:
    """Every method's score on one seed's votes."""
    votes = simulate_votes(tiles, seed, label_noise, jitter)
    n = len(personas(label_noise))
    estimated = fusion.box_weights(votes, n_annotators=n)
    weights, spread = estimated.weights, estimated.spread
    result: dict[str, Score] = {}
    singles = []
    for k in range(n):
        answered = [k in v for v in votes]
        singles.append(score([v.get(k, []) for v in votes], tiles, answered))
    result["best single (by F1)"] = max(singles, key=lambda s: s.f1)
    result["best single (by mean IoU)"] = max(singles, key=lambda s: s.mean_iou)
    result["worse annotator"] = singles[-1]
    result["Quorum"] = score(quorum_fusion(votes, weights, spread), tiles)
    result["Quorum, reliability only"] = score(quorum_fusion(votes, weights), tiles)
    result["Quorum, equal weights"] = score(quorum_fusion(votes, None), tiles)
    result["WBF, reliability weights"] = score(wbf(votes, tiles, weights), tiles)
    result["WBF, 1/spread² weights"] = score(wbf(votes, tiles, 1 / spread**2), tiles)
    result["WBF, equal weights"] = score(wbf(votes, tiles, np.ones(n)), tiles)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 … N−1")
    parser.add_argument(
        "--jitter", type=float, default=JITTER, help="a good annotator's edge error / box size"
    )
    parser.add_argument("--label-noise", type=float, default=0.0, help="a good annotator's wrong-label rate")
    args = parser.parse_args()
    tiles = load_tiles()
    print(simulated_crowd.machine(
        f"ensemble-boxes {metadata.version('ensemble-boxes')}; {len(tiles)} tiles, "
        f"{sum(len(t.truth) for t in tiles)} true boxes, seeds 0–{args.seeds - 1}, jitter {args.jitter}, label noise {args.label_noise}"
    ))  # fmt: skip
    started = time.perf_counter()
    runs = [run(seed, tiles, args.label_noise, args.jitter) for seed in range(args.seeds)]
    simulated_crowd.print_table(
        runs, {"mean IoU": "mean_iou", "F1@0.5": "f1"}, {"precision": "precision", "recall": "recall"}
    )
    print(f"{time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
