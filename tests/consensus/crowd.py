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


@cache
def load(name: str) -> Votes:
    path = CROWD / name / "votes.csv"
    assert path.exists(), f"the crowd data is missing: {path}"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    items = {i: n for n, i in enumerate(sorted({r["item"] for r in rows}))}
    workers = {w: n for n, w in enumerate(sorted({r["annotator"] for r in rows}))}
    labels = {lab: n for n, lab in enumerate(sorted({r["label"] for r in rows}))}
    return Votes(
        item=np.array([items[r["item"]] for r in rows]),
        annotator=np.array([workers[r["annotator"]] for r in rows]),
        label=np.array([labels[r["label"]] for r in rows]),
        n_items=len(items), n_annotators=len(workers), n_labels=len(labels),
    )  # fmt: skip
