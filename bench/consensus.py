"""Consensus over a synthetic crowd: majority vote, Dawid–Skene and Krippendorff's alpha.

    .venv/bin/python bench/consensus.py [--repeat 3] [--skip-postgres]

Two crowds: 100,000 items × 5 votes and 1,000,000 items × 3 votes; 4 labels; 200 annotators whose
accuracies are uniform in 0.55–0.95 (a wrong answer is a uniformly random label, which may be
right by chance); no annotator votes twice on one item. Prints, per crowd, the best of
``--repeat`` runs of majority vote, Dawid–Skene (with its iterations) and nominal alpha, the
accuracy of each method against the synthetic truth (ties count as wrong), and at the end the
peak memory of the process. Targets: Dawid–Skene ≤ 0.1 s on 100k × 5 and ≤ 1.5 s on 1M × 3.

Without ``--skip-postgres`` it then runs ``bench/consensus_pg.py`` (re-estimation against
PostgreSQL), passing it the parsed arguments.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy

# Run as a script, this folder comes first on sys.path and this file would shadow the
# ``consensus`` app; put the repository root there instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from consensus.aggregation import TIE, dawid_skene, majority_vote  # noqa: E402
from consensus.metrics import Votes, alpha_nominal  # noqa: E402

CROWDS = [(100_000, 5, 0.1), (1_000_000, 3, 1.5)]  # items, votes per item, Dawid–Skene target (s)
ANNOTATORS = 200
LABELS = 4


def synthetic_crowd(n_items: int, per_item: int, *, seed: int = 0) -> tuple[Votes, np.ndarray]:
    """Votes in item order and the true label of each item."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, LABELS, n_items)
    annotators = rng.integers(0, ANNOTATORS, (n_items, per_item))
    while True:  # redraw the items on which some annotator was drawn twice
        ordered = np.sort(annotators, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(1)
        if not repeated.any():
            break
        annotators[repeated] = rng.integers(0, ANNOTATORS, (int(repeated.sum()), per_item))
    item = np.repeat(np.arange(n_items), per_item)
    annotator = annotators.ravel()
    accuracy = rng.uniform(0.55, 0.95, ANNOTATORS)
    right = rng.random(len(item)) < accuracy[annotator]
    label = np.where(right, truth[item], rng.integers(0, LABELS, len(item)))
    return Votes(item, annotator, label, n_items, ANNOTATORS, LABELS), truth


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def accuracy(best: np.ndarray, truth: np.ndarray) -> str:
    return f"accuracy {100 * float((best == truth).mean()):5.2f}%  ties {100 * float((best == TIE).mean()):4.2f}%"


def run_crowd(n_items: int, per_item: int, target: float, repeat: int) -> None:
    votes, truth = synthetic_crowd(n_items, per_item)
    name = f"{n_items:>9,} items × {per_item} votes"
    seconds, mv = best_of(repeat, lambda: majority_vote(votes))
    print(f"{name}  majority vote  {seconds:7.3f} s{'':20}{accuracy(mv.best, truth)}", flush=True)
    seconds, ds = best_of(repeat, lambda: dawid_skene(votes))
    verdict = "ok" if seconds <= target else "OVER"
    print(f"{name}  Dawid–Skene    {seconds:7.3f} s  (≤ {target} s: {verdict:4})  {accuracy(ds.best, truth)}  "
          f"{ds.iterations} iterations{'' if ds.converged else ', not converged'}", flush=True)  # fmt: skip
    seconds, alpha = best_of(repeat, lambda: alpha_nominal(votes))
    print(f"{name}  alpha nominal  {seconds:7.3f} s{'':20}alpha {alpha:.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is printed")
    parser.add_argument("--skip-postgres", action="store_true", help="do not run bench/consensus_pg.py")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}, {time.strftime('%Y-%m-%d')}; "
          f"{ANNOTATORS} annotators, {LABELS} labels, best of {args.repeat}")  # fmt: skip
    for n_items, per_item, target in CROWDS:
        run_crowd(n_items, per_item, target, args.repeat)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    print(f"peak memory (max RSS): {peak_mb:.0f} MB", flush=True)
    if not args.skip_postgres:
        from bench.consensus_pg import run as postgres_run

        postgres_run(args)


if __name__ == "__main__":
    main()
