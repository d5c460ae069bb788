"""Span consensus on generated sentences with known entities: simulated annotators, merged,
scored against the true spans.

    .venv/bin/python bench/spans.py [--seeds 10] [--sentences 500] [--jitter tokens|chars] [--label-noise 0]

Sentences come from 16 templates filled with Faker's names, companies, cities and dates (seeded),
so every entity's offsets are known: four labels (person, organization, location, date), 0–4
entities a sentence, one sentence in eight with none ("nothing to mark here" is the right answer).

Annotators, as bench/boxes.py: a pool of four good ones and one worse; each sentence gets the
worse one and two to four good ones. A good annotator misses an entity with probability 10%
(the worse 20%), adds spurious spans — 5% (10%) of the sentence's entity count on average, one to
three words anywhere they do not overlap their own spans — and places each boundary wrong:

- ``--jitter tokens`` (the default): a boundary is off by one word with probability 10% (20%),
  taking in the neighbouring word or leaving out the edge word, as people do with "Mr." or
  "Inc." when the page selects whole words;
- ``--jitter chars``: each boundary moves by a normal error of 5% of the span's length in
  characters (10%), rounded — issue 23's "jitter ~5% of size" read literally, a sloppy drag.

With ``--label-noise p`` a good annotator gives a wrong label with probability p (the worse 2p).
Every simulated answer passes ``annotation.answers.spans.check_answer`` (no overlaps).

Scored per seed, pooled over the sentences: **strict span F1** (same boundaries and label, the
usual named-entity measure) and overlap F1 (same label, any shared character, pairs one-to-one).
Methods on the same votes: the best single annotator (by strict F1); ``Quorum``:
``consensus.fusion.fuse_spans`` with its defaults and the reliability weights
``consensus.fusion.span_weights`` estimates from the same votes (each annotator's mean similarity
to a first, equally weighted fusion); ``Quorum, equal weights``: that first fusion. Target (issue 23): consensus strict F1 ≥ the best single annotator's + 5 points.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from annotation.answers import spans  # noqa: E402
from bench import simulated_crowd  # noqa: E402
from consensus import fusion  # noqa: E402

LABELS = ("person", "organization", "location", "date")
TEMPLATES = (
    "{person} flew from {location} to {location} on {date}.",
    "Shares of {organization} rose after {person} announced the deal.",
    "{person}, who works for {organization}, lives in {location}.",
    "On {date}, {organization} opened an office in {location}.",
    "The letter from {person} reached the {organization} office in {location}.",
    "{person} and {person} met at the {organization} headquarters on {date}.",
    "According to {person}, {organization} will move to {location} by {date}.",
    "The court in {location} ruled against {organization} on {date}.",
    "Mr. {person} has led {organization} since {date}.",
    "A spokesperson for {organization} declined to comment.",
    "{person} was born in {location} on {date}.",
    "Tickets for the concert in {location} sold out within an hour.",
    "{organization} hired {person} as its chief engineer.",
    "Flooding closed several roads near {location} last week.",
    "The weather stayed mild and the meeting ran long.",
    "Nobody answered the phone, so the message was left for later.",
)
TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")
Answer = list[dict[str, Any]]


@dataclass(frozen=True)
class Sentence:
    text: str
    truth: Answer


def generate(n: int, seed: int) -> list[Sentence]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    fill = {
        "person": fake.name,
        "organization": fake.company,
        "location": fake.city,
        "date": lambda: fake.date_object().strftime("%d %B %Y").lstrip("0"),
    }
    out = []
    for _ in range(n):
        template = TEMPLATES[rng.integers(len(TEMPLATES))]
        text, truth, rest = "", [], template
        while (m := re.search(r"\{(\w+)\}", rest)) is not None:
            text += rest[: m.start()]
            value = fill[m.group(1)]()
            truth.append({"start": len(text), "end": len(text) + len(value), "label": m.group(1)})
            text += value
            rest = rest[m.end() :]
        text += rest
        out.append(Sentence(text, spans.check_answer(truth, LABELS, text=text, overlap=False, version=1)))
    return out


@dataclass(frozen=True)
class Persona:
    boundary: float  # tokens: chance a boundary is one word off; chars: error as a share of length
    miss: float
    spurious: float
    label_noise: float


def personas(label_noise: float, jitter: str) -> list[Persona]:
    boundary = 0.10 if jitter == "tokens" else 0.05
    good = Persona(boundary, 0.10, 0.05, label_noise)
    return [good] * 4 + [Persona(2 * boundary, 0.20, 0.10, 2 * label_noise)]


def _move(
    text: str, start: int, end: int, who: Persona, jitter: str, rng: np.random.Generator
) -> tuple[int, int]:
    if jitter == "chars":
        length = end - start
        start += int(round(rng.normal(0, who.boundary * length)))
        end += int(round(rng.normal(0, who.boundary * length)))
        return min(max(start, 0), len(text)), min(max(end, 0), len(text))
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    inside = [i for i, (a, b) in enumerate(tokens) if a >= start and b <= end]
    first, last = inside[0], inside[-1]
    if rng.random() < who.boundary:  # the start takes in a word, or drops one
        first = first - 1 if (rng.random() < 0.5 or first == last) and first > 0 else min(first + 1, last)
    if rng.random() < who.boundary:
        last = (
            last + 1
            if (rng.random() < 0.5 or first == last) and last < len(tokens) - 1
            else max(last - 1, first)
        )
    return tokens[first][0], tokens[last][1]


def annotate(sentence: Sentence, who: Persona, jitter: str, rng: np.random.Generator) -> Answer:
    text, drawn = sentence.text, []
    for t in sentence.truth:
        if rng.random() < who.miss:
            continue
        start, end = _move(text, t["start"], t["end"], who, jitter, rng)
        label = t["label"]
        if rng.random() < who.label_noise:
            label = str(rng.choice([lab for lab in LABELS if lab != label]))
        drawn.append({"start": start, "end": end, "label": label})
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    for _ in range(rng.poisson(who.spurious * max(len(sentence.truth), 1))):
        first = int(rng.integers(len(tokens)))
        last = min(first + int(rng.integers(3)), len(tokens) - 1)
        drawn.append({"start": tokens[first][0], "end": tokens[last][1], "label": str(rng.choice(LABELS))})
    answer: Answer = []
    for span in drawn:  # in order: a span that overlaps one already kept is not drawn
        if span["end"] <= span["start"] or not text[span["start"] : span["end"]].strip():
            continue
        if any(span["start"] < s["end"] and s["start"] < span["end"] for s in answer):
            continue
        answer.append(span)
    return spans.check_answer(answer, LABELS, text=text, overlap=False, version=1)


def simulate_votes(
    sentences: list[Sentence], seed: int, jitter: str, label_noise: float
) -> list[dict[int, Answer]]:
    rng = np.random.default_rng(seed + 1_000)
    pool = personas(label_noise, jitter)
    return [
        {k: annotate(sentence, pool[k], jitter, rng) for k in simulated_crowd.draw_annotators(rng)}
        for sentence in sentences
    ]


@dataclass(frozen=True)
class Score:
    f1: float  # strict
    overlap_f1: float
    precision: float
    recall: float


def score(found: list[Answer], sentences: list[Sentence], only: list[bool] | None = None) -> Score:
    exact = loose = marked = true = 0
    for n, (answer, sentence) in enumerate(zip(found, sentences, strict=True)):
        if only is not None and not only[n]:
            continue
        c = spans.compare(answer, sentence.truth, exact=True)
        exact += c.pairs
        loose += spans.compare(answer, sentence.truth).pairs
        marked, true = marked + c.size_a, true + c.size_b
    total = marked + true
    return Score(
        2 * exact / total if total else math.nan,
        2 * loose / total if total else math.nan,
        exact / marked if marked else math.nan,
        exact / true if true else math.nan,
    )


def quorum_fusion(votes: list[dict[int, Answer]], weights: np.ndarray | None) -> list[Answer]:
    return [
        fusion.fuse_spans(list(v.values()), weights=None if weights is None else weights[list(v)]).value
        for v in votes
    ]


def run(seed: int, n_sentences: int, jitter: str = "tokens", label_noise: float = 0.0) -> dict[str, Score]:
    sentences = generate(n_sentences, seed)
    votes = simulate_votes(sentences, seed, jitter, label_noise)
    n = len(personas(label_noise, jitter))
    weights = fusion.span_weights(votes, n_annotators=n).weights
    singles = [score([v.get(k, []) for v in votes], sentences, [k in v for v in votes]) for k in range(n)]
    return {
        "best single": max(singles, key=lambda s: s.f1),
        "worse annotator": singles[-1],
        "Quorum": score(quorum_fusion(votes, weights), sentences),
        "Quorum, equal weights": score(quorum_fusion(votes, None), sentences),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 … N−1")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--jitter", choices=("tokens", "chars"), default="tokens")
    parser.add_argument("--label-noise", type=float, default=0.0, help="a good annotator's wrong-label rate")
    args = parser.parse_args()
    print(simulated_crowd.machine(
        f"Faker {metadata.version('Faker')}; {args.sentences} sentences a seed, seeds 0–{args.seeds - 1}, "
        f"jitter {args.jitter}, label noise {args.label_noise}"
    ))  # fmt: skip
    started = time.perf_counter()
    runs = [run(seed, args.sentences, args.jitter, args.label_noise) for seed in range(args.seeds)]
    simulated_crowd.print_table(
        runs, {"strict F1": "f1", "overlap F1": "overlap_f1"}, {"precision": "precision", "recall": "recall"}
    )
    gains = np.array([r["Quorum"].f1 - r["best single"].f1 for r in runs]) * 100
    print(
        f"Quorum − best single, strict F1: {gains.mean():+.1f} points ({gains.min():+.1f} to {gains.max():+.1f})"
    )
    print(f"{time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
