"""The real crowd data sets in tests/data/crowd (sources and licences in its README), loaded into index arrays."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

from consensus.metrics import Votes

CROWD = Path(__file__).resolve().parents[1] / "data" / "crowd"
SETS = ["sp", "sp_amt", "music_genre", "cf", "zc_all", "bluebirds", "snow_temp", "snow_wsd"]
README_ALPHA = {"sp": 0.428, "sp_amt": 0.738, "music_genre": 0.301, "cf": 0.577, "zc_all": 0.195,
                "bluebirds": 0.126, "snow_temp": 0.223, "snow_wsd": 0.937}  # fmt: skip
# Reference accuracies in the data README: majority vote (ties to the first label), and the better
# of its two Dawid–Skene figures (crowd-kit, numpy).
README_MAJORITY = {"sp": 88.2, "sp_amt": 94.4, "music_genre": 70.7, "cf": 88.0, "zc_all": 82.4,
                   "bluebirds": 75.9, "snow_temp": 93.9, "snow_wsd": 99.4}  # fmt: skip
README_DAWID_SKENE = {"sp": 91.5, "sp_amt": 94.4, "music_genre": 76.9, "cf": 83.0, "zc_all": 80.1,
                      "bluebirds": 89.8, "snow_temp": 94.2, "snow_wsd": 99.4}  # fmt: skip


@cache
def _rows(name: str) -> list[dict[str, str]]:
    path = CROWD / name / "votes.csv"
    assert path.exists(), f"the crowd data is missing: {path}"
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _index(rows: list[dict[str, str]], column: str) -> dict[str, int]:
    return {key: n for n, key in enumerate(sorted({r[column] for r in rows}))}


@cache
def load(name: str) -> Votes:
    rows = _rows(name)
    items, workers, labels = _index(rows, "item"), _index(rows, "annotator"), _index(rows, "label")
    return Votes(
        item=np.array([items[r["item"]] for r in rows]),
        annotator=np.array([workers[r["annotator"]] for r in rows]),
        label=np.array([labels[r["label"]] for r in rows]),
        n_items=len(items), n_annotators=len(workers), n_labels=len(labels),
    )  # fmt: skip


@cache
def gold(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(item, label) index arrays of the experts' answers, indexed as ``load`` indexes votes."""
    rows = _rows(name)
    items, labels = _index(rows, "item"), _index(rows, "label")
    with (CROWD / name / "gold.csv").open() as fh:
        known = [(items[r["item"]], labels[r["label"]]) for r in csv.DictReader(fh) if r["item"] in items]
    return np.array([i for i, _ in known]), np.array([lab for _, lab in known])


def accuracy(name: str, best: np.ndarray) -> float:
    """Percent of the gold items whose label is ``best`` (a tie counts as wrong)."""
    items, labels = gold(name)
    return 100.0 * float((best[items] == labels).mean())


def bar(name: str, *, live_majority: float | None = None, live_dawid_skene: float | None = None) -> float:
    """Issue 21's floor for a set: max(majority vote, Dawid–Skene) − 1.0 point, taking the higher
    of the README's figures and, when given, the ones measured now."""
    figures = [README_MAJORITY[name], README_DAWID_SKENE[name], live_majority or 0.0, live_dawid_skene or 0.0]
    return max(figures) - 1.0
