"""Model choice (issue 21): the candidates, the old and the new default, against gold and truth.

    .venv/bin/python bench/consensus_choice.py [--repeat 3] [--draws 3] [--skip-timing]

Prints, as Markdown tables:

1. Per shared crowd set (tests/data/crowd), the accuracy against the experts' gold of majority vote
   (ties undecided, as the product leaves them; and ties to the first label, the data README's
   convention), plain Dawid–Skene, one-coin, the robust variant (the old default), and ``auto`` (the
   new default) with the method it chose, beside the bar max(majority, Dawid–Skene) − 1.
2. Leave-one-set-out over the tunable settings of the choice — the margin in standard errors alone
   (the folds fixed at the default, as the test does), then the margin and the number of folds
   together: for each set, the settings that score best on the other seven, and what
   they give on the held-out set. Where several settings tie on the seven, the held-out figure of
   the middle one is reported with the worst and best of the tied ones.
3. Synthetic crowds of shapes the shared sets lack (``tests/consensus/synthetic.py``), against
   their known truth, over ``--draws`` draws each.
4. The time of the choice and of ``auto`` against the old default, on the largest shared set and
   on synthetic crowds of a million and of three million votes (bench/consensus.py's crowd).

Accuracy is percent correct; a tie or an item without a label counts as wrong.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# Run as a script, this folder comes first on sys.path and its consensus.py would shadow the
# ``consensus`` app; put the repository root there instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from bench.consensus import synthetic_crowd  # noqa: E402
from consensus import aggregation  # noqa: E402
from consensus.aggregation import CANDIDATES, CHOICE_FOLDS, CHOICE_MARGIN, METHOD_NAMES, TIE  # noqa: E402
from tests.consensus import synthetic  # noqa: E402
from tests.consensus.crowd import SETS, accuracy, bar, load  # noqa: E402

MARGINS = (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0)
FOLDS = (5, 10)
SHORT = {"one_coin": "one-coin", "dawid_skene_plain": "DS", "dawid_skene": "robust", "majority": "MV"}


def pick(choice: aggregation.Choice, margin: float) -> str:
    """The method ``choose`` would keep at another margin (the evidence does not depend on it)."""
    return next(e.method for e in choice.evidence if e.behind <= margin * e.se)


def shared_sets() -> dict[str, dict]:
    out = {}
    for name in SETS:
        votes = load(name)
        fits = {m: aggregation.METHODS[m](votes).best for m in ("majority", "dawid_skene_plain", "one_coin", "dawid_skene")}
        acc = {m: accuracy(name, best) for m, best in fits.items()}
        acc["majority_first"] = accuracy(name, aggregation.majority_vote(votes).posterior.argmax(1))
        candidate = {m: accuracy(name, aggregation._candidate(m, votes, None).best) for m in CANDIDATES}
        choices = {f: aggregation.choose_method(votes, folds=f) for f in FOLDS}
        out[name] = {"acc": acc, "candidate": candidate, "choices": choices,
                     "bar": bar(name, live_majority=acc["majority"], live_dawid_skene=acc["dawid_skene_plain"])}  # fmt: skip
    return out


def print_shared(sets: dict[str, dict]) -> None:
    print(f"\n### Per set (default: {CHOICE_FOLDS} folds, margin {CHOICE_MARGIN})\n")
    print("| set | majority (ties undecided) | majority (ties to first) | Dawid–Skene | one-coin | robust = old default "
          "| **auto** (chosen) | bar | auto − bar |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name, s in sets.items():
        a = s["acc"]
        chosen = pick(s["choices"][CHOICE_FOLDS], CHOICE_MARGIN)
        auto = s["candidate"][chosen]
        rows.append([a["majority"], a["majority_first"], a["dawid_skene_plain"], a["one_coin"], a["dawid_skene"], auto])
        print(f"| {name} | {a['majority']:.1f} | {a['majority_first']:.1f} | {a['dawid_skene_plain']:.1f} | "
              f"{a['one_coin']:.1f} | {a['dawid_skene']:.1f} | **{auto:.1f}** ({SHORT[chosen]}) | {s['bar']:.1f} | "
              f"{auto - s['bar']:+.1f} |")  # fmt: skip
    mean = np.mean(rows, 0)
    print("| mean over all eight (not a validation) | " + " | ".join(f"{x:.2f}" for x in mean[:5]) +
          f" | **{mean[5]:.2f}** | | |")  # fmt: skip


def print_loso(sets: dict[str, dict], settings: list[tuple[int, float]], title: str, *, table: bool) -> None:
    score = {name: {(f, m): s["candidate"][pick(s["choices"][f], m)] for f, m in settings} for name, s in sets.items()}
    print(f"\n### Leave one set out — {title} (chosen on seven sets, scored on the eighth)\n")
    print("| held-out set | settings best on the other seven | held-out accuracy (middle tied setting) "
          "| worst–best over the tied | bar |")  # fmt: skip
    print("|---|---|---|---|---|")
    held = []
    for name in sets:
        others = [n for n in sets if n != name]
        mean = {st: np.mean([score[n][st] for n in others]) for st in settings}
        top = max(mean.values())
        tied = [st for st in settings if mean[st] >= top - 1e-9]
        middle = tied[len(tied) // 2]
        values = [score[name][st] for st in tied]
        held.append(score[name][middle])
        print(f"| {name} | {_ranges(tied)} (mean {top:.2f} on the seven) | {score[name][middle]:.1f} "
              f"({middle[0]} folds, margin {middle[1]}) | {min(values):.1f}–{max(values):.1f} | {sets[name]['bar']:.1f} |")
    print(f"| **mean of the held-out figures** | | **{np.mean(held):.2f}** | | |")
    if not table:
        return
    print("\nPer setting, the accuracy on each set (the default marked *):\n")
    print("| folds, margin | " + " | ".join(sets) + " | mean of eight |")
    print("|---|" + "---|" * (len(sets) + 1))
    for st in settings:
        mark = "*" if st == (CHOICE_FOLDS, CHOICE_MARGIN) else ""
        values = [score[n][st] for n in sets]
        print(f"| {st[0]}, {st[1]}{mark} | " + " | ".join(f"{x:.1f}" for x in values) + f" | {np.mean(values):.2f} |")


def _ranges(tied: list[tuple[int, float]]) -> str:
    by_folds: dict[int, list[float]] = {}
    for f, m in tied:
        by_folds.setdefault(f, []).append(m)
    return "; ".join(f"{f} folds, margin {min(ms)}–{max(ms)}" for f, ms in by_folds.items())


def print_shapes(draws: int) -> None:
    print(f"\n### Synthetic shapes ({draws} draws each; accuracy against the generated truth)\n")
    print("| shape | majority (ties undecided) | ties | Dawid–Skene | one-coin | robust = old default | **auto** | chosen |")
    print("|---|---|---|---|---|---|---|---|")
    for title, generate in {**synthetic.SHAPES, **{f"model: {k}": g for k, g in synthetic.GENERATORS.items()}}.items():
        rows, chosen = [], []
        for seed in range(draws):
            votes, truth = generate(np.random.default_rng(seed))
            mv = aggregation.majority_vote(votes).best
            result = aggregation.auto(votes)
            chosen.append(SHORT[result.choice.method])
            rows.append([100 * float((b == truth).mean()) for b in (
                mv, aggregation.dawid_skene_plain(votes).best, aggregation.one_coin(votes).best,
                aggregation.dawid_skene(votes).best, result.best)] + [100 * float((mv == TIE).mean())])  # fmt: skip
        m = np.mean(rows, 0)
        print(f"| {title} | {m[0]:.1f} | {m[5]:.0f}% | {m[1]:.1f} | {m[2]:.1f} | {m[3]:.1f} | **{m[4]:.1f}** | "
              f"{', '.join(chosen)} |")  # fmt: skip


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def print_timing(repeat: int) -> None:
    print(f"\n### Time (best of {repeat})\n")
    print("| crowd | votes | old default (robust) | choice | auto (choice + fit of the chosen) | chosen |")
    print("|---|---|---|---|---|---|")
    largest = max(SETS, key=lambda n: len(load(n).item))
    for title, votes in [(f"{largest} (largest shared set)", load(largest)),
                         ("synthetic 333,334 items × 3 votes", synthetic_crowd(333_334, 3)[0]),
                         ("synthetic 1,000,000 items × 3 votes", synthetic_crowd(1_000_000, 3)[0])]:  # fmt: skip
        old = best_of(repeat, lambda v=votes: aggregation.dawid_skene(v))
        choose = best_of(repeat, lambda v=votes: aggregation.choose_method(v))
        auto = best_of(repeat, lambda v=votes: aggregation.auto(v))
        chosen = aggregation.choose_method(votes)
        print(f"| {title} | {len(votes.item):,} | {old:.2f} s | {choose:.2f} s (on {chosen.items:,} items) | "
              f"{auto:.2f} s | {SHORT[chosen.method]} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is printed")
    parser.add_argument("--draws", type=int, default=3, help="synthetic crowds per shape")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    load1, load5, load15 = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; {time.strftime('%Y-%m-%d %H:%M')}; load average {load1:.2f} {load5:.2f} {load15:.2f}")
    print(f"candidates in order: {', '.join(METHOD_NAMES[m] for m in CANDIDATES)}")
    sets = shared_sets()
    print_shared(sets)
    print_loso(sets, [(CHOICE_FOLDS, m) for m in MARGINS], f"the margin, folds fixed at {CHOICE_FOLDS}", table=False)
    print_loso(sets, [(f, m) for f in FOLDS for m in MARGINS], "folds × margin", table=True)
    print_shapes(args.draws)
    if not args.skip_timing:
        print_timing(args.repeat)


if __name__ == "__main__":
    main()
