"""Project-wide re-estimation against PostgreSQL: read every vote, aggregate, write decisions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/quorum_bench .venv/bin/python bench/consensus_pg.py \\
        [--votes 1000000] [--per-item 3]

(also run by ``bench/consensus.py`` unless ``--skip-postgres``). The database named in
``DATABASE_URL`` (default ``BENCH_PG_URL``, i.e. ``quorum_bench``; its name must contain "bench")
is dropped, re-created and migrated. If PostgreSQL is down:
``pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start``.

Setup (not timed; its time is printed): one project with a published rulebook of 4 labels
(min_votes = ``--per-item``), 200 external annotators whose accuracies are uniform in
0.55–0.95 (a wrong answer is a uniformly random label), ``votes / per-item`` queued text items and
their votes (no annotator twice on one item), loaded with COPY, then ANALYZE. Each item's
synthetic truth is kept in its ``metadata`` (which consensus never reads).

Measured, in a separate process so that its peak RSS is its own: ``consensus_reestimate`` once
(summary, wall time, time per step and SQL time by statement, peak RSS; targets ≤ 10 s and
≤ 1.5 GB), the accuracy of the promoted labels against the truth; a second run with every item already
decided (nothing to write; every ground truth re-checked); then, after resetting the
items to 'queued' and deleting ground truth and estimates, ``project_votes`` alone, the
aggregation alone, and a second ``consensus_reestimate`` under cProfile (top 15 cumulative, top 10
by own time). "SQL time" is Django's execute: with psycopg 3's client-side binding (Django's
default) it includes quoting every parameter into the query text in Python.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

# Run as a script, this folder comes first on sys.path and bench/consensus.py would shadow the
# ``consensus`` app; put the repository root there instead (as bench/consensus.py does).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.fresh import PG_URL, ROOT, fresh_postgres  # noqa: E402

VOTES = 1_000_000
PER_ITEM = 3
ANNOTATORS = 200
LABELS = ("cat", "dog", "bird", "fish")
SLUG = "bench-consensus"
TARGET_SECONDS = 10.0
TARGET_MB = 1536
SEED = 0


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- the orchestrator: fresh database, then one process to load and one to measure ---------------


def run(args: argparse.Namespace) -> None:
    votes = int(getattr(args, "votes", VOTES))
    per_item = int(getattr(args, "per_item", PER_ITEM))
    url = os.environ.get("DATABASE_URL") or PG_URL
    started = time.perf_counter()
    env = fresh_postgres(url, QUORUM_DB_POOL="0", DJANGO_SETTINGS_MODULE="quorum.settings")
    print(
        f"\nPostgreSQL {env['BENCH_PG_VERSION']} re-estimation: {votes:,} votes, {per_item} per item, "
        f"{ANNOTATORS} external annotators, {len(LABELS)} labels; fresh database "
        f"{urlsplit(url).path.lstrip('/')} migrated in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    for phase in ("load", "measure"):
        cmd = [
            sys.executable,
            "-u",
            __file__,
            "--phase",
            phase,
            "--votes",
            str(votes),
            "--per-item",
            str(per_item),
        ]
        subprocess.run(cmd, env=env, check=True, cwd=ROOT)


# --- in the children --------------------------------------------------------------------------


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quorum.settings")
    import django

    django.setup()


def synthetic(n_items: int, per_item: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth per item, annotator per vote, label per vote); votes in item order, per_item each:
    the same crowd as bench/consensus.py's."""
    from bench.consensus import ANNOTATORS as N_ANNOTATORS
    from bench.consensus import synthetic_crowd

    assert N_ANNOTATORS == ANNOTATORS and len(LABELS) == 4
    votes, truth = synthetic_crowd(n_items, per_item, seed=SEED)
    return truth, votes.annotator, votes.label


def copy_lines(cur: Any, sql: str, lines: Iterator[str], batch: int = 50_000) -> None:
    """COPY … FROM STDIN in text format, ``batch`` lines per write."""
    with cur.copy(sql) as copy:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) >= batch:
                copy.write("".join(buf))
                buf.clear()
        if buf:
            copy.write("".join(buf))


def load(votes: int, per_item: int) -> None:
    django_setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotation.items.models import Item
    from annotation.labeling.models import Vote
    from annotation.projects import services as projects_services
    from annotation.rulebook import services as rulebook_services
    from annotation.voters.models import Voter, VoterKind

    started = time.perf_counter()
    admin = get_user_model().objects.create_user("bench-admin")
    project = projects_services.project_create(
        actor=admin, name="Bench consensus", slug=SLUG, item_kind="text", min_votes=per_item,
        max_votes=per_item + 2, gold_rate=0, lease_seconds=600,
    )  # fmt: skip
    labels = [
        {"key": k, "name": k.title(), "definition": f"It is a {k}.", "hotkey": str(i + 1)}
        for i, k in enumerate(LABELS)
    ]
    rulebook_services.rulebook_draft_save(
        actor=admin, project=project, guidelines="", unclear_instructions="", do_not_label="", labels=labels
    )
    version = rulebook_services.rulebook_publish(actor=admin, project=project)
    externals = Voter.objects.bulk_create(
        [Voter(project=project, kind=VoterKind.EXTERNAL, name=f"crowd-{n:03d}") for n in range(ANNOTATORS)]
    )
    external_ids = np.array([e.pk for e in externals], dtype=np.int64)

    n_items = -(-votes // per_item)
    truth, annotator, label = synthetic(n_items, per_item)
    generated = time.perf_counter()

    p, rb = project.pk, version.pk
    item_t, vote_t = Item._meta.db_table, Vote._meta.db_table
    now = "2025-01-01 00:00:00+00"
    item_ids = np.arange(1, n_items + 1)
    vote_items = np.repeat(item_ids, per_item)
    values = [json.dumps(k) for k in LABELS]
    cur = connection.cursor().connection.cursor()  # the psycopg 3 connection under Django's
    # The rows are consistent by construction: skip the per-row foreign-key triggers while loading
    # (a superuser setting; with them the vote COPY took 45 s instead of 15 s).
    cur.execute("SET session_replication_role = replica")
    copy_lines(
        cur,
        f"COPY {item_t} (id, project_id, external_id, kind, text, image, thumbnail, content_hash, metadata, "
        f"state, priority, created_at, extra_votes, leased_count, votes_count) FROM STDIN",
        (
            f'{i}\t{p}\ti{i}\ttext\titem {i}\t\t\th{i}\t{{"truth": "{LABELS[t]}"}}\tqueued\t0\t{now}\t0\t0\t{per_item}\n'
            for i, t in zip(item_ids.tolist(), truth.tolist(), strict=True)
        ),
    )
    items_done = time.perf_counter()
    copy_lines(
        cur,
        f"COPY {vote_t} (id, kind, value, unsure, claim, claim_reason, note, time_spent_ms, client_id, created_at, "
        f"item_id, project_id, rulebook_version_id, voter_id) FROM STDIN",
        (
            f"{n}\tvote\t{values[v]}\tf\t\t\t\t0\tc{n}\t{now}\t{i}\t{p}\t{rb}\t{e}\n"
            for n, (i, v, e) in enumerate(
                zip(vote_items.tolist(), label.tolist(), external_ids[annotator].tolist(), strict=True),
                start=1,
            )
        ),
    )
    votes_done = time.perf_counter()
    cur.execute("SET session_replication_role = DEFAULT")
    for table in (item_t, vote_t):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    cur.execute("ANALYZE")
    analyzed = time.perf_counter()
    cur.close()
    size = connection.cursor()
    size.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    print(
        f"setup (not timed): project + rulebook + {ANNOTATORS} externals + synthetic crowd "
        f"{generated - started:.1f} s; COPY {n_items:,} items {items_done - generated:.1f} s, "
        f"{len(vote_items):,} votes {votes_done - items_done:.1f} s; ANALYZE {analyzed - votes_done:.1f} s; "
        f"total {analyzed - started:.1f} s; database {size.fetchone()[0]}",
        flush=True,
    )


class Timers:
    """Wall time and calls per named step, and SQL time per statement kind, during one run."""

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.sql: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.orm: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.undo: list[Callable[[], None]] = []

    def add(self, table: dict[str, list[float]], name: str, seconds: float) -> None:
        table[name][0] += seconds
        table[name][1] += 1

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        had_own = attr in vars(owner)  # a module's function; not a bound method of an instance

        @functools.wraps(original)
        def timed(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                self.add(self.steps, name, time.perf_counter() - t)

        setattr(owner, attr, timed)
        self.undo.append(lambda: setattr(owner, attr, original) if had_own else delattr(owner, attr))

    def wrap_queryset(self, method: str) -> None:
        from django.db.models import QuerySet

        original = getattr(QuerySet, method)

        def timed(qs: Any, *a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(qs, *a, **kw)
            finally:
                self.add(self.orm, f"{qs.model.__name__}.{method}", time.perf_counter() - t)

        setattr(QuerySet, method, timed)
        self.undo.append(lambda: setattr(QuerySet, method, original))

    def sql_wrapper(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        words = sql.split(None, 1)
        verb = words[0].upper() if words else "?"
        tables = [w.strip('"') for w in sql.replace('"', " ").replace(".", " ").replace(",", " ").split()]
        table = next((w for w in tables if w.startswith(("annotation_", "consensus_"))), "")
        if verb == "SELECT" and " FOR UPDATE" in sql:
            verb = "SELECT … FOR UPDATE"
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.add(self.sql, f"{verb} {table}", time.perf_counter() - t)

    def restore(self) -> None:
        for undo in reversed(self.undo):
            undo()
        self.undo.clear()


def instrumented_reestimate(project: Any) -> tuple[Any, float, Timers]:
    from django.db import connection, connections

    from consensus import aggregation
    from consensus.decisions import selectors, services

    timers = Timers()
    timers.wrap(services, "consensus_compute", "consensus_compute (read + aggregate)")
    for attr, name in (
        ("project_votes", "  project_votes (read)"),
        ("value_counts", "  value_counts"),
        ("alpha_from_counts", "  alpha"),
    ):
        timers.wrap(selectors, attr, name)
    for attr, name in (
        ("_store_estimate", "_store_estimate (Estimate + Reliability rows)"),
        ("_promote", "_promote (ground truth rows + items)"),
        ("_ask_more", "_ask_more"),
        ("_to_review", "_to_review"),
        ("_check_promoted", "_check_promoted"),
        ("items_move", "  items_move (UPDATE … RETURNING)"),
        ("insert_rows", "  insert_rows (COPY ground truth)"),
        ("audit_record", "audit_record"),
    ):
        timers.wrap(services, attr, name)
    originals = dict(aggregation.METHODS)
    timers.wrap(aggregation, "auto", "  auto (choice + fit of the chosen)")
    timers.wrap(aggregation, "choose_method", "    choose_method (the model choice)")
    for name in ("one_coin", "dawid_skene_plain", "dawid_skene"):  # the chosen model's fit, and the choice's
        timers.wrap(aggregation, name, f"    {name}")
        aggregation.METHODS[name] = getattr(aggregation, name)  # the table selectors look methods up in
    aggregation.METHODS["auto"] = aggregation.auto
    timers.undo.append(lambda: aggregation.METHODS.update(originals))
    timers.wrap(connections["default"], "commit", "COMMIT")
    for method in ("bulk_create", "update", "count"):
        timers.wrap_queryset(method)
    with connection.execute_wrapper(timers.sql_wrapper):
        started = time.perf_counter()
        summary = services.consensus_reestimate(project=project)
        wall = time.perf_counter() - started
    timers.restore()
    return summary, wall, timers


def reset(project: Any) -> float:
    """Back to the state after loading: items queued, no ground truth, no estimates."""
    from django.db import connection, transaction

    from annotation.items.models import Item, ItemState
    from annotation.projects.models import AuditEvent
    from consensus.decisions.models import Estimate, GroundTruth, ReestimateRequest, Reliability

    started = time.perf_counter()
    with transaction.atomic():
        GroundTruth.objects.filter(project=project)._raw_delete(connection.alias)
        Reliability.objects.filter(estimate__project=project).delete()
        Estimate.objects.filter(project=project)._raw_delete(connection.alias)
        ReestimateRequest.objects.filter(project=project).delete()
        AuditEvent.objects.filter(project=project, verb__startswith="consensus.").delete()
        Item.objects.filter(project=project).update(state=ItemState.QUEUED, extra_votes=0)
    with connection.cursor() as cur:
        for model in (Item, GroundTruth, Estimate, Reliability, AuditEvent):
            cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return time.perf_counter() - started


def promoted_accuracy(project: Any) -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            # a label stored as the JSON text of its JSON ('"\\"cat\\""', see the labels warning) counts as that label
            "SELECT count(*) FILTER (WHERE g.label = i.metadata -> 'truth' OR g.label #>> '{}' = (i.metadata -> 'truth')::text), "
            "count(*) FROM consensus_groundtruth g "
            "JOIN annotation_item i ON i.id = g.item_id WHERE g.project_id = %s AND g.withdrawn_at IS NULL "
            "AND g.source = 'consensus'",
            [project.pk],
        )
        right, total = cur.fetchone()
    return right, total


def print_summary(summary: Any) -> None:
    s = summary
    print(
        f"  summary: {s.items:,} items, {s.votes:,} votes; promoted {s.promoted:,}, need more {s.need_more:,}, "
        f"review {s.review:,}, collapsed {s.collapsed:,}, ground truth {s.ground_truth:,}; "
        f"{s.iterations} iterations{'' if s.converged else ' (not converged)'}, alpha {s.alpha}; "
        f"Summary.seconds {s.seconds}",
        flush=True,
    )


def print_breakdown(timers: Timers, wall: float) -> None:
    print("  where the time goes (wall time inside each step; indented = part of the step above):")
    accounted = 0.0
    for name, (seconds, _calls) in timers.steps.items():
        if not name.startswith(" "):
            accounted += seconds
    order = [
        "consensus_compute (read + aggregate)", "  project_votes (read)", "  auto (choice + fit of the chosen)",
        "    choose_method (the model choice)", "    one_coin", "    dawid_skene_plain", "    dawid_skene", "  value_counts",
        "  alpha", "_store_estimate (Estimate + Reliability rows)", "_promote (ground truth rows + items)",
        "  _locked_unchanged (SELECT … FOR UPDATE)", "_ask_more", "_to_review", "_check_promoted",
        "audit_record", "COMMIT",
    ]  # fmt: skip
    names = order + sorted(n for n in timers.steps if n not in order)
    for name in names:
        if name in timers.steps:
            seconds, calls = timers.steps[name]
            print(f"    {name:52} {seconds:7.3f} s  {calls:5d} call{'s' if calls != 1 else ''}")
    print(f"    {'other (ReestimateRequest, last vote id, decide_many, …)':52} {wall - accounted:7.3f} s")
    print("  ORM bulk calls (inside the steps above):")
    for name, (seconds, calls) in sorted(timers.orm.items(), key=lambda kv: -kv[1][0]):
        print(f"    {name:52} {seconds:7.3f} s  {calls:5d} call{'s' if calls != 1 else ''}")
    print("  SQL time (execute, round trip incl. server work; fetch and row decoding are not in it):")
    for name, (seconds, calls) in sorted(timers.sql.items(), key=lambda kv: -kv[1][0]):
        print(f"    {name:52} {seconds:7.3f} s  {calls:5d} statement{'s' if calls != 1 else ''}")
    print(f"    {'total':52} {sum(v[0] for v in timers.sql.values()):7.3f} s")


def measure(votes: int, per_item: int) -> None:
    base_rss = rss_mb()
    django_setup()
    from annotation.projects.models import Project
    from consensus import aggregation
    from consensus.adapters import project_votes
    from consensus.decisions import services
    from consensus.decisions.models import Estimate
    from consensus.metrics import alpha_from_counts, value_counts

    project = Project.objects.select_related("current_rulebook").get(slug=SLUG)
    django_rss = rss_mb()

    # 1. the timed run, with a light breakdown (function wrappers, SQL execute wrapper)
    summary, wall, timers = instrumented_reestimate(project)
    peak = rss_mb()
    ok_time = "ok" if wall <= TARGET_SECONDS else "OVER"
    ok_mem = "ok" if peak <= TARGET_MB else "OVER"
    print(
        f"consensus_reestimate  {wall:6.2f} s  (≤ {TARGET_SECONDS:.0f} s: {ok_time})   "
        f"peak RSS {peak:,.0f} MB (≤ {TARGET_MB / 1024:.1f} GB: {ok_mem}; "
        f"interpreter {base_rss:.0f} MB, after Django setup {django_rss:.0f} MB)",
        flush=True,
    )
    print_summary(summary)
    estimated = Estimate.objects.get(pk=summary.estimate_id).labels
    if estimated != list(LABELS):
        print(
            f"  WARNING: the estimate's labels are {estimated!r}, not the rulebook's {list(LABELS)!r}: "
            "raw SQL hands jsonb back as text under Django (psycopg 3 TextLoader / psycopg2 dummy loads), "
            "and consensus.adapters._decode only decodes on SQLite, so every vote is read as a new label.",
            flush=True,
        )
    print_breakdown(timers, wall)

    # 2. accuracy of the promoted labels against the synthetic truth
    right, total = promoted_accuracy(project)
    print(
        f"promoted labels vs synthetic truth: {right:,} / {total:,} right = "
        f"{100 * right / max(total, 1):.2f}%  ({100 * total / max(summary.items, 1):.1f}% of items promoted)",
        flush=True,
    )

    # 3. again, with every item already decided: nothing to write, all ground truth re-checked
    project = Project.objects.select_related("current_rulebook").get(slug=SLUG)
    summary, wall, timers = instrumented_reestimate(project)
    print(f"consensus_reestimate again, steady state (every item already decided)  {wall:6.2f} s", flush=True)
    print_summary(summary)
    print_breakdown(timers, wall)

    # 4. the read and the aggregation alone
    print(f"reset between runs (queued, no ground truth / estimates, VACUUM ANALYZE): {reset(project):.1f} s")
    labels = services._labels(project)
    t = time.perf_counter()
    pv = project_votes(project_id=project.pk, labels=labels)
    read = time.perf_counter() - t
    print(
        f"project_votes alone      {read:6.2f} s  ({len(pv.votes.item):,} votes, {len(pv.item_ids):,} items)"
    )
    t = time.perf_counter()
    result = aggregation.auto(pv.votes, gold=pv.gold)
    ds = time.perf_counter() - t
    t = time.perf_counter()
    counts = value_counts(pv.votes)
    alpha_from_counts(counts)
    rest = time.perf_counter() - t
    print(
        f"aggregation alone        {ds:6.2f} s  auto, chose {result.choice.method} ({result.iterations} iterations), "
        f"+ {rest:.2f} s value_counts + alpha",
        flush=True,
    )
    del pv, result, counts

    # 5. once more under cProfile
    project = Project.objects.select_related("current_rulebook").get(slug=SLUG)
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    summary = services.consensus_reestimate(project=project)
    profiler.disable()
    print(f"consensus_reestimate under cProfile  {time.perf_counter() - t:6.2f} s (second run, after reset)")
    print_summary(summary)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(15)
    text = out.getvalue()
    print(text[text.find("   ncalls") :].rstrip(), flush=True)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(10)
    text = out.getvalue()
    print("  top 10 by own time (tottime):")
    print(text[text.find("   ncalls") :].rstrip(), flush=True)
    print(f"peak RSS of the measuring process, all of the above: {rss_mb():,.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=VOTES)
    parser.add_argument("--per-item", type=int, default=PER_ITEM)
    parser.add_argument("--phase", choices=("load", "measure"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "load":
        load(args.votes, args.per_item)
    elif args.phase == "measure":
        measure(args.votes, args.per_item)
    else:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"numpy {np.__version__}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
        run(args)


if __name__ == "__main__":
    main()
