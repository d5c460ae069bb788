"""What the box and span simulations (bench/boxes.py, bench/spans.py) share: who answers each
item, and the table of figures over seeds."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

GOOD, WORSE = 4, 4  # four good annotators (0–3), then the worse one (index 4)


def draw_annotators(rng: np.random.Generator) -> list[int]:
    """The annotators of one item: the worse one and two to four of the good ones (3–5 in all)."""
    good = rng.choice(GOOD, size=rng.integers(2, GOOD + 1), replace=False)
    return sorted(int(k) for k in good) + [WORSE]


def machine(extra: str) -> str:
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, {time.strftime('%Y-%m-%d')}, load {os.getloadavg()[0]:.2f}; {extra}"
    )


def print_table(runs: Sequence[dict[str, Any]], ranged: dict[str, str], averaged: dict[str, str]) -> None:
    """One row per method: each ``ranged`` figure as its mean over seeds (min–max), each
    ``averaged`` one as its mean. The dicts map a column title to the score's attribute."""
    width = max(len(m) for m in runs[0]) + 1
    print(f"{'method':{width}}" + "".join(f"{t:>24}" for t in ranged) + "".join(f"{t:>11}" for t in averaged))
    for method in runs[0]:
        row = f"{method:{width}}"
        for attr in ranged.values():
            v = np.array([getattr(r[method], attr) for r in runs])
            row += f"  {v.mean():.4f} ({v.min():.4f}–{v.max():.4f})"
        for attr in averaged.values():
            row += f"{np.mean([getattr(r[method], attr) for r in runs]):11.4f}"
        print(row)
