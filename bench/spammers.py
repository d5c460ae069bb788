"""Spammers in a real crowd, run through Quorum's own services: are they caught, and does the
ground truth hold?

    .venv/bin/python bench/spammers.py [--set sp] [--items 0] [--annotators 20] [--seed 7]

(``--items 0``: every item of the set). It migrates a fresh SQLite database in a temporary
folder. ``tests/consensus/test_quality_simulation.py`` runs the same simulation on a part of ``sp``.

The simulation: a project whose rulebook has the set's labels (``project_create_for_votes``),
one item per item of the set, a random ``gold_share`` of them gold with the set's expert label,
``min_votes`` 3, ``max_votes`` 5, gold rate = ``gold_share``. ``annotators`` members take items
from the real queue (``item_lease_next``, gold mixed in at the gold rate) in turns and answer with
``vote_cast``, each with a time per item drawn from the same distribution. An honest annotator's
answer is one of the item's real crowd votes not yet used (drawn at random; once all are used,
any of them), so honest answers are real workers' answers, mistakes and all. A spammer answers
a uniformly random label. Every ``reestimate_every`` votes the project is re-estimated (what the
background task does) and the annotators page's figures (``annotator_quality``) are read; the
first time an annotator is flagged, their gold answers and votes so far are recorded, and the
admin suspends them (``annotator_suspend``: their votes stop counting, the items they voted on
are decided again). A third run leaves flagged annotators in, to show what suspension is worth.

Accuracy is that of the best label of every non-gold item against the set's gold, through the
export path (``ground_truth_export(all_items=True)``) after a final re-estimation. The same
simulation with the spammers replaced by honest annotators gives the baseline.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

CROWD = HERE.parent / "tests" / "data" / "crowd"


@dataclass
class Caught:
    gold_answers: int
    votes: int
    flags: list[str]


@dataclass
class Outcome:
    accuracy: float  # best label vs gold, non-gold items
    scored: int
    votes: int
    spammers: list[str]
    honest: list[str]
    caught: dict[str, Caught] = field(default_factory=dict)  # first flag of each annotator flagged
    gold_answers: dict[str, int] = field(default_factory=dict)  # at the end
    seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)


def load(name: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    votes: dict[str, list[str]] = defaultdict(list)
    with open(CROWD / name / "votes.csv", newline="") as f:
        for row in csv.DictReader(f):
            votes[row["item"]].append(row["label"])
    with open(CROWD / name / "gold.csv", newline="") as f:
        gold = {row["item"]: row["label"] for row in csv.DictReader(f)}
    return dict(votes), gold


def simulate(
    *, set_name: str = "sp", items: int = 0, annotators: int = 20, spam_share: float = 0.2, gold_share: float = 0.05,
    seed: int = 7, spammers: bool = True, reestimate_every: int = 200, slug: str = "", suspend_flagged: bool = True,
) -> Outcome:  # fmt: skip
    """Run the simulation in the configured database (see the module doc); needs Django set up."""
    from django.contrib.auth import get_user_model

    from annotation.imports.votes import project_create_for_votes
    from annotation.items.models import Item, ItemState
    from annotation.labeling import services as labeling
    from annotation.projects import services as projects_services
    from annotation.projects.models import Role
    from consensus.annotators.services import annotator_suspend
    from consensus.decisions.selectors import ground_truth_export
    from consensus.decisions.services import consensus_reestimate
    from consensus.reporting.annotators import annotator_quality

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    votes_by_item, gold = load(set_name)
    names = sorted(i for i in votes_by_item if i in gold)
    rng.shuffle(names)
    if items:
        names = names[:items]
    labels = sorted({lab for i in names for lab in votes_by_item[i]} | {gold[i] for i in names})
    header = "item,annotator,label\n" + "".join(f"x,{n},{lab}\n" for n, lab in enumerate(labels))
    project = project_create_for_votes(actor=None, slug=slug or f"spam-{set_name}-{seed}-{int(spammers)}", votes=header.encode())
    key_of = {lab["name"]: lab["key"] for lab in project.current_rulebook.labels}
    projects_services.project_update(actor=None, project=project, min_votes=3, max_votes=5, gold_rate=gold_share)
    is_gold = rng.random(len(names)) < gold_share
    Item.objects.bulk_create(
        [
            Item(project=project, kind="text", text=f"{set_name} item {name}", external_id=name,
                 content_hash=f"{set_name}-{name}", gold=key_of[gold[name]] if g else None)  # fmt: skip
            for name, g in zip(names, is_gold, strict=True)
        ],
        batch_size=2000,
    )
    by_pk = dict(Item.objects.filter(project=project).values_list("pk", "external_id"))
    admin = get_user_model().objects.create_user(username=f"{project.slug}-admin", password=None)
    projects_services.member_add(actor=None, project=project, username=admin.username, role=Role.ADMIN)
    users = []
    for n in range(annotators):
        user = get_user_model().objects.create_user(username=f"{project.slug}-a{n:02d}", password=None)
        projects_services.member_add(actor=None, project=project, username=user.username, role=Role.ANNOTATOR)
        users.append(user)
    n_spam = round(annotators * spam_share) if spammers else 0
    spam = {u.pk for u in rng.choice(users, size=n_spam, replace=False)} if n_spam else set()
    pools = {name: list(rng.permutation(votes_by_item[name])) for name in names}
    keys = [key_of[lab] for lab in labels]
    out = Outcome(0.0, 0, 0, sorted(u.username for u in users if u.pk in spam), sorted(u.username for u in users if u.pk not in spam))
    gold_answers: dict[int, int] = defaultdict(int)
    cast: dict[int, int] = defaultdict(int)
    active = list(users)

    def check() -> None:
        consensus_reestimate(project=project)
        for row in annotator_quality(project=project).rows:
            if row.flags and row.name not in out.caught and row.user_id is not None:
                out.caught[row.name] = Caught(gold_answers[row.user_id], cast[row.user_id], [f.code for f in row.flags])
                if suspend_flagged:  # what the admin does on the annotators page
                    reason = "; ".join(f.message for f in row.flags)
                    annotator_suspend(project=project, actor=admin, voter_id=row.voter_id, reason=reason)
                    active[:] = [u for u in active if u.pk != row.user_id]

    while active:
        for user in list(rng.permutation(np.array(active, dtype=object))):
            if user not in active:
                continue  # suspended during this round
            lease = labeling.item_lease_next(project=project, annotator=user)
            if lease is None:
                active.remove(user)
                continue
            name = by_pk[lease.item_id]
            if user.pk in spam:
                answer = keys[int(rng.integers(len(keys)))]
            else:
                pool = pools[name]
                answer = key_of[pool.pop() if pool else votes_by_item[name][int(rng.integers(len(votes_by_item[name])))]]
            labeling.vote_cast(
                project=project, annotator=user, item_id=lease.item_id, client_id=f"sim-{user.pk}-{lease.item_id}",
                value=answer, time_spent_ms=int(rng.lognormal(np.log(8000), 0.5)),
            )  # fmt: skip
            out.votes += 1
            cast[user.pk] += 1
            gold_answers[user.pk] += lease.is_gold
            if out.votes % reestimate_every == 0:
                check()
    check()
    right = scored = 0
    gold_pks = set(Item.objects.filter(project=project, gold__isnull=False).values_list("pk", flat=True))
    for row in ground_truth_export(project=project, all_items=True):
        if row["item_id"] in gold_pks:
            continue
        scored += 1
        right += row["label"] == key_of[gold[row["item"]]]
    out.accuracy, out.scored = right / max(scored, 1), scored
    out.gold_answers = {u.username: gold_answers[u.pk] for u in users}
    out.states = {s: Item.objects.filter(project=project, state=s).count() for s in ItemState.values}
    out.seconds = time.perf_counter() - started
    return out


def report(title: str, o: Outcome) -> None:
    print(f"\n{title}: {o.votes} votes, {o.seconds:.0f} s; accuracy {o.accuracy:.2%} on {o.scored} items; states {o.states}")
    for name in o.spammers:
        c = o.caught.get(name)
        print(f"  spammer {name}: " + (f"flagged after {c.gold_answers} gold answers, {c.votes} votes ({', '.join(c.flags)})"
                                       if c else f"NOT flagged ({o.gold_answers[name]} gold answers)"))  # fmt: skip
    wrong = [n for n in o.honest if n in o.caught]
    print(f"  honest annotators flagged: {len(wrong)} of {len(o.honest)}" + (f" ({', '.join(wrong)})" if wrong else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="sp")
    parser.add_argument("--items", type=int, default=0)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="quorum-spam-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["QUORUM_SQLITE_PATH"] = str(Path(folder) / "db.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quorum.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; set {args.set}, "
          f"{args.annotators} annotators (20% spammers), 5% gold, seed {args.seed}")  # fmt: skip
    with_spam = simulate(set_name=args.set, items=args.items, annotators=args.annotators, seed=args.seed)
    report("With spammers (the admin suspends whoever is flagged)", with_spam)
    left_in = simulate(set_name=args.set, items=args.items, annotators=args.annotators, seed=args.seed,
                       suspend_flagged=False, slug="spam-left-in")  # fmt: skip
    report("With spammers, nobody suspended", left_in)
    honest = simulate(set_name=args.set, items=args.items, annotators=args.annotators, seed=args.seed, spammers=False)
    report("Without spammers", honest)
    print(f"\nAccuracy with spammers minus without: {100 * (with_spam.accuracy - honest.accuracy):+.2f} points "
          f"(nobody suspended: {100 * (left_in.accuracy - honest.accuracy):+.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
