"""Auto-labeling gated by measured precision, on real labeled data: does the precision hold, and
does a drop stop it?

    python bench/autolabel.py [--seeds 20] [--target 0.97]

Data: the 1,797 handwritten digits bundled with scikit-learn (10 labels). Per seed, a random
split: 600 items train the machine — logistic regression with sigmoid-calibrated probabilities
(``CalibratedClassifierCV``, 3 folds) — 400 are human-verified (their true label known, as gold
and ground truth are), and the other 797 are the items the gate may auto-label. The machine's
confidence is its top probability.

1. *Precision holds.* ``consensus.calibration.choose_threshold`` on the verified items, given the
   pool's confidences (``--model-bound``: without them, bounding the model's precision only);
   every pool item at or above the threshold is auto-labeled; the realised precision is the share of
   those auto-labels that are right. Over the seeds: how often it is ≥ the target (a run that
   auto-labels nothing labels nothing wrongly and counts as holding; how many did is printed).
2. *A planted drift.* Per seed, a stream of 20,000 auto-labels drawn (with replacement) from the
   pool items above the threshold; from the 10,000th on the machine's accuracy drops by 10
   points (each right answer turns wrong with probability 0.10 / its accuracy, confidence
   unchanged). ``audit_select`` picks 5% of the stream for humans; after each audit,
   ``audit_check``. Reports where it stopped (audits after the drift, against what
   ``audits_to_detect`` predicts), false stops before the drift, and whether every auto-label made
   after the drift is among those sent back.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from consensus.calibration import audit_check, audit_select, audits_to_detect, choose_threshold  # noqa: E402

TRAIN, VERIFIED = 600, 400
STREAM, DRIFT, DROP, SHARE = 20_000, 10_000, 0.10, 0.05


def machine(seed: int):
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    train, verified, pool = order[:TRAIN], order[TRAIN:TRAIN + VERIFIED], order[TRAIN + VERIFIED:]
    model = CalibratedClassifierCV(LogisticRegression(max_iter=2000), method="sigmoid", cv=3)
    model.fit(X[train] / 16.0, y[train])
    proba = model.predict_proba(X / 16.0)
    return proba.max(1), proba.argmax(1) == y, verified, pool


def run(seed: int, target: float, batch: bool) -> dict:
    confidence, right, verified, pool = machine(seed)
    gate = choose_threshold(confidence[verified], right[verified], target=target,
                            pool_confidence=confidence[pool] if batch else None)  # fmt: skip
    out = {"seed": seed, "threshold": gate.threshold, "lower": gate.lower, "model_accuracy": right[pool].mean()}
    if gate.threshold is None:
        return out
    auto = pool[confidence[pool] >= gate.threshold]
    out.update(auto_labeled=len(auto), coverage=len(auto) / len(pool), precision=right[auto].mean())
    # the drift stream
    rng = np.random.default_rng(1000 + seed)
    stream_right = right[rng.choice(auto, STREAM)].copy()
    turn = rng.random(STREAM) < DROP / right[pool].mean()
    stream_right[DRIFT:] &= ~turn[DRIFT:]
    audited = np.flatnonzero(audit_select(range(STREAM), share=SHARE, seed=f"bench-{seed}"))
    results = stream_right[audited]
    out["precision_before"], out["precision_after"] = stream_right[:DRIFT].mean(), stream_right[DRIFT:].mean()
    for i in range(1, len(audited) + 1):
        check = audit_check(results[:i], audited[:i], target=target)
        if check.stopped:
            position = int(audited[i - 1])
            out.update(stopped_at=position, audits_after_drift=int((audited[:i] >= DRIFT).sum()),
                       return_from=check.return_from, window=check.window,
                       false_stop=position < DRIFT,
                       all_drifted_returned=check.return_from <= DRIFT,
                       returned_before_drift=max(0, DRIFT - check.return_from))  # fmt: skip
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--target", type=float, default=0.97)
    parser.add_argument("--model-bound", action="store_true", help="bound the model's precision, not the pool's")
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d')}; target {args.target}")  # fmt: skip
    started = time.perf_counter()
    runs = [run(seed, args.target, not args.model_bound) for seed in range(args.seeds)]
    print("\nseed | model acc | threshold | bound | auto-labeled (share of pool) | realised precision | "
          "drift: precision before → after | stopped at (audits after drift) | window | sent back from | all drifted back")
    for r in runs:
        if r["threshold"] is None:
            print(f"{r['seed']} | {r['model_accuracy']:.3f} | none | — | 0 | — | — | — | — | — | —")
            continue
        stop = (f"{r['stopped_at']:,} ({r['audits_after_drift']})" if "stopped_at" in r else "never")
        print(f"{r['seed']} | {r['model_accuracy']:.3f} | {r['threshold']} | {r['lower']:.4f} | {r['auto_labeled']} "
              f"({r['coverage']:.2f}) | {r['precision']:.4f} | {r['precision_before']:.3f} → {r['precision_after']:.3f} | "
              f"{stop} | {r.get('window')} | {r.get('return_from', '—'):,} | {r.get('all_drifted_returned')}")  # fmt: skip
    opened = [r for r in runs if r["threshold"] is not None]
    held = sum(r["precision"] >= args.target for r in opened) + len(runs) - len(opened)
    print(f"\nprecision held in {held} of {len(runs)} runs ({held / len(runs):.0%}); "
          f"{len(opened)} runs auto-labeled, coverage {np.mean([r['coverage'] for r in opened]):.2f} of the pool, "
          f"realised precision {min(r['precision'] for r in opened):.4f}–{max(r['precision'] for r in opened):.4f}")  # fmt: skip
    after = np.mean([r["precision_after"] for r in opened])
    predicted = audits_to_detect(after, target=args.target)
    median = audits_to_detect(after, target=args.target, power=0.5)
    stops = [r for r in opened if "stopped_at" in r and not r["false_stop"]]
    late = [r["audits_after_drift"] for r in stops]
    print(f"drift to precision {after:.3f}: predicted {predicted['audits']} audits for 80% "
          f"(P = {predicted['probability']:.2f}), {median['audits']} for 50%; "
          f"stopped after the drift in {len(stops)} of {len(opened)} runs, after {min(late)}–{max(late)} audits "
          f"(median {np.median(late):.0f}); within {predicted['audits']}: {sum(x <= predicted['audits'] for x in late)}; "
          f"false stops before the drift: {sum(r.get('false_stop', False) for r in opened)}; "
          f"every drifted auto-label sent back: {sum(r['all_drifted_returned'] for r in stops)} of {len(stops)}; "
          f"pre-drift auto-labels sent back too: {min(r['returned_before_drift'] for r in stops):,}–"
          f"{max(r['returned_before_drift'] for r in stops):,} "
          f"(median {np.median([r['returned_before_drift'] for r in stops]):,.0f})")  # fmt: skip
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
