"""Box answers: rectangles drawn on an image, each with a label. Pure; no Django here.

An answer is a list of boxes ``{"x", "y", "w", "h", "label"}``:

- **Image pixels** of the stored image, origin at its top-left corner, ``x`` to the right and ``y``
  down; ``x, y`` is the box's top-left corner, ``w, h`` its width and height. Pixels and not shares
  of the image: they are what the image, COCO and VOC speak, and a box keeps its meaning however
  the page scales the picture (the page divides by its display scale; a YOLO export divides by the
  image size). Coordinates may be fractional and are rounded to 1/100 pixel.
- Inside the image (``0 ≤ x``, ``x + w ≤ width``, likewise ``y``), at least ``MIN_SIDE`` pixel on
  each side (a click without a drag is not a box), at most ``MAX_BOXES`` boxes.
- The label is a key of the rulebook in force; with a one-label rulebook it may be left out.
- ``[]`` is "nothing to mark here" (see ``annotation.answers``).

The normalised answer is sorted (top to bottom, then left to right) so two equal answers are equal
lists; checking it again returns it unchanged.

Two answers are compared by pairing their boxes one-to-one (Hungarian, ``marks.pair_up``) with
an IoU of at least ``MATCH_IOU`` (0.5, the usual detection threshold) and, by default, the same label.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from annotation.answers import marks
from annotation.answers.choice import AnswerInvalid

FIELDS = ("x", "y", "w", "h", "label")
MAX_BOXES = 1000
MIN_SIDE = 1.0
MATCH_IOU = 0.5
_EDGE = 1e-6  # float slack at the image's edge after rounding


def _number(mark: dict[str, Any], i: int, name: str) -> float:
    value = mark.get(name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise AnswerInvalid(f"value[{i}].{name}", f"Box {i + 1}: {name} must be a number of pixels.")
    return round(float(value), 2)


def check_answer(
    value: Any,
    label_keys: Sequence[str],
    *,
    width: int,
    height: int,
    version: int,
    max_boxes: int = MAX_BOXES,
) -> list[dict[str, Any]]:
    """The normalised box answer on a ``width`` × ``height`` image, or ``AnswerInvalid`` naming
    the box and field (``value[2].w``)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"the image size must be known and positive, not {width}×{height}")
    raw = marks.check_list(value, noun="box", plural="boxes", fields=FIELDS, limit=max_boxes)
    out: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for i, mark in enumerate(raw):
        x, y, w, h = (_number(mark, i, name) for name in ("x", "y", "w", "h"))
        for name, side in (("w", w), ("h", h)):
            if side < MIN_SIDE:
                raise AnswerInvalid(
                    f"value[{i}].{name}",
                    f"Box {i + 1} is {w:g}×{h:g} pixels; a box is at least {MIN_SIDE:g} pixel wide and high.",
                )
        for name, low, high, limit in (("x", x, x + w, width), ("y", y, y + h, height)):
            if low < 0 or high > limit + _EDGE:
                raise AnswerInvalid(
                    f"value[{i}].{name}",
                    f"Box {i + 1} reaches outside the {width}×{height} image ({name} from {low:g} to {high:g}).",
                )
        label = marks.check_label(mark, i, label_keys, version=version)
        if (x, y, w, h, label) in seen:
            raise AnswerInvalid(f"value[{i}]", f"Box {i + 1} repeats box {seen[x, y, w, h, label] + 1}.")
        seen[x, y, w, h, label] = i
        out.append({"x": x, "y": y, "w": w, "h": h, "label": label})
    out.sort(key=lambda b: (b["y"], b["x"], b["h"], b["w"], b["label"]))
    return out


def corners(answer: Sequence[dict[str, Any]]) -> np.ndarray:
    """The boxes as an ``n × 4`` float array of ``x1, y1, x2, y2``."""
    if not answer:
        return np.zeros((0, 4))
    xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in answer], dtype=float)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def compare(
    a: Sequence[dict[str, Any]],
    b: Sequence[dict[str, Any]],
    *,
    min_iou: float = MATCH_IOU,
    labels: bool = True,
) -> marks.Comparison:
    """Two box answers compared (see ``marks.Comparison``): ``.f1`` is F1@``min_iou``,
    ``.mean_iou`` the matched boxes' mean IoU, ``.distance`` the distance for alpha."""
    return marks.compare_labeled(
        marks.iou_matrix(corners(a), corners(b)), [m["label"] for m in a], [m["label"] for m in b],
        min_iou=min_iou, labels=labels,
    )  # fmt: skip


def distance(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> float:
    """``1 − similarity`` of two box answers: 0 when identical, 1 when no box matches."""
    return compare(a, b).distance


def agreement(
    answers: Sequence[Sequence[dict[str, Any]]], *, min_iou: float = MATCH_IOU, labels: bool = True
) -> marks.ItemAgreement:
    """One item's agreement over its answers: mean matched IoU, share of boxes matched, and the
    mean pairwise similarity (``marks.ItemAgreement``)."""
    return marks.item_agreement(answers, lambda a, b: compare(a, b, min_iou=min_iou, labels=labels))
