"""Span answers: stretches of an item's text, each with a label. Pure; no Django here.

An answer is a list of spans ``{"start", "end", "label"}``:

- **Character offsets** into the item's text, ``start`` included and ``end`` excluded (Python's
  ``text[start:end]``), counted in Unicode code points. A browser counts in UTF-16 units, which
  differ beyond the Basic Multilingual Plane (emoji): the page converts before sending.
- ``0 ≤ start < end ≤ len(text)``. Whitespace at either end of a span is trimmed — a selection
  that takes the space after a word means the word — and a span of nothing but whitespace is refused.
- Two spans may share characters only when the rulebook allows overlaps (``overlap=True``, e.g.
  "Bank of America" an organisation with "America" a place inside it); the same span with the
  same label twice is refused either way. At most ``MAX_SPANS`` spans.
- The label is a key of the rulebook in force; with a one-label rulebook it may be left out.
- ``[]`` is "nothing to mark here" (see ``annotation.answers``).

The normalised answer is sorted by position; checking it again returns it unchanged.

Two answers are compared by pairing their spans one-to-one (Hungarian, ``marks.pair_up``) by their
overlap — the IoU of their character ranges — where any shared character can pair two spans
(``MATCH_IOU`` 0), by default only with the same label. ``exact=True`` pairs only spans with the
very same boundaries: the strict F1 of named-entity evaluation.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from annotation.answers import marks
from annotation.answers.choice import AnswerInvalid

FIELDS = ("start", "end", "label")
MAX_SPANS = 1000
MATCH_IOU = 0.0


def _offset(mark: dict[str, Any], i: int, name: str) -> int:
    value = mark.get(name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise AnswerInvalid(
            f"value[{i}].{name}", f"Span {i + 1}: {name} must be a whole number of characters."
        )
    return int(value)


def check_answer(
    value: Any,
    label_keys: Sequence[str],
    *,
    text: str,
    overlap: bool,
    version: int,
    max_spans: int = MAX_SPANS,
) -> list[dict[str, Any]]:
    """The normalised span answer on ``text``, or ``AnswerInvalid`` naming the span and field."""
    raw = marks.check_list(value, noun="span", plural="spans", fields=FIELDS, limit=max_spans)
    checked: list[tuple[int, dict[str, Any]]] = []
    seen: dict[tuple[int, int, str], int] = {}
    for i, mark in enumerate(raw):
        start, end = _offset(mark, i, "start"), _offset(mark, i, "end")
        if not 0 <= start < end <= len(text):
            field = "start" if not 0 <= start < len(text) else "end"
            raise AnswerInvalid(
                f"value[{i}].{field}",
                f"Span {i + 1} ({start}–{end}) is not within the text's {len(text)} characters with start before end.",
            )
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            raise AnswerInvalid(f"value[{i}]", f"Span {i + 1} covers only whitespace.")
        label = marks.check_label(mark, i, label_keys, version=version)
        if (start, end, label) in seen:
            raise AnswerInvalid(f"value[{i}]", f"Span {i + 1} repeats span {seen[start, end, label] + 1}.")
        seen[start, end, label] = i
        checked.append((i, {"start": start, "end": end, "label": label}))
    checked.sort(key=lambda p: (p[1]["start"], p[1]["end"], p[1]["label"]))
    if not overlap:
        reach, owner = 0, -1
        for i, span in checked:
            if span["start"] < reach:
                raise AnswerInvalid(
                    f"value[{i}]",
                    f"Span {i + 1} overlaps span {owner + 1}; this rulebook does not allow overlapping spans.",
                )
            if span["end"] > reach:
                reach, owner = span["end"], i
    return [span for _, span in checked]


def ranges(answer: Sequence[dict[str, Any]]) -> np.ndarray:
    """The spans as an ``n × 2`` float array of ``start, end``."""
    if not answer:
        return np.zeros((0, 2))
    return np.array([[s["start"], s["end"]] for s in answer], dtype=float)


def compare(
    a: Sequence[dict[str, Any]],
    b: Sequence[dict[str, Any]],
    *,
    min_iou: float = MATCH_IOU,
    labels: bool = True,
    exact: bool = False,
) -> marks.Comparison:
    """Two span answers compared (see ``marks.Comparison``); with ``exact`` only identical
    boundaries pair up, so ``.f1`` is the strict span F1."""
    iou = marks.iou_matrix(ranges(a), ranges(b))
    if exact:
        iou = np.where(iou == 1.0, 1.0, 0.0)
    return marks.compare_labeled(
        iou, [m["label"] for m in a], [m["label"] for m in b], min_iou=min_iou, labels=labels
    )


def distance(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> float:
    """``1 − similarity`` of two span answers: 0 when identical, 1 when no span overlaps."""
    return compare(a, b).distance


def agreement(
    answers: Sequence[Sequence[dict[str, Any]]],
    *,
    min_iou: float = MATCH_IOU,
    labels: bool = True,
    exact: bool = False,
) -> marks.ItemAgreement:
    """One item's agreement over its answers: mean matched overlap, share of spans matched, and
    the mean pairwise similarity (``marks.ItemAgreement``)."""
    return marks.item_agreement(
        answers, lambda a, b: compare(a, b, min_iou=min_iou, labels=labels, exact=exact)
    )
