"""Writes tests/data/snorkel/lfanalysis.json: Snorkel's ``LFAnalysis`` figures on seeded random
label matrices, so tests/annotation/rules/test_stats.py checks ``annotation.rules.stats`` against
Snorkel itself without installing it (Snorkel needs PyTorch: ~1.4 GB, too heavy for ``make test``).

Run in an environment with ``requirements-bench.txt`` installed:
    python bench/snorkel_reference.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from snorkel.labeling import LFAnalysis

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "snorkel" / "lfanalysis.json"
CASES = [  # (seed, items, rules, labels, abstain rate)
    (1, 200, 6, 2, 0.7), (2, 150, 8, 3, 0.5), (3, 300, 4, 2, 0.9), (4, 50, 10, 5, 0.3), (5, 120, 5, 2, 0.0),
]  # fmt: skip


def case(seed: int, n: int, m: int, k: int, abstain: float) -> dict:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    matrix = np.where(rng.random((n, m)) < 0.75, truth[:, None], rng.integers(0, k, (n, m)))
    matrix[rng.random((n, m)) < abstain] = -1
    matrix[:, -1] = np.where(rng.random(n) < 0.5, -1, rng.integers(0, 1, n))  # one rule with a single polarity
    if m > 4:
        matrix[:, 0] = -1  # a rule that never fires
    matrix[: n // 10] = -1  # items no rule labels
    analysis = LFAnalysis(matrix)
    summary = analysis.lf_summary(Y=truth)
    return {
        "seed": seed, "L": matrix.tolist(), "Y": truth.tolist(),
        "polarity": [list(map(int, p)) for p in analysis.lf_polarities()],
        "coverage": analysis.lf_coverages().tolist(), "overlaps": analysis.lf_overlaps().tolist(),
        "conflicts": analysis.lf_conflicts().tolist(),
        "label_coverage": float(analysis.label_coverage()), "label_overlap": float(analysis.label_overlap()),
        "label_conflict": float(analysis.label_conflict()),
        "correct": summary["Correct"].astype(int).tolist(), "incorrect": summary["Incorrect"].astype(int).tolist(),
        "empirical_accuracy": analysis.lf_empirical_accuracies(truth).tolist(),
    }  # fmt: skip


def main() -> None:
    data = {"snorkel": version("snorkel"), "python": sys.version.split()[0],
            "cases": [case(*c) for c in CASES]}  # fmt: skip
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), snorkel {data['snorkel']}")


if __name__ == "__main__":
    main()
