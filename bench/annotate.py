"""The annotator's round trip over HTTP: one client in sequence, then 50 at once; optionally
before and after a change, in one run on the same machine.

    .venv/bin/python bench/annotate.py [--backends sqlite,postgres] [--workers 2] [--seconds 20]
    .venv/bin/python bench/annotate.py --before-rev 1ae74d1 [--repeats 5] [--votes 1500]

One round trip is one request: POST /votes/ with `next`, whose answer carries the next item
(the page works this way). For each backend: a fresh database with 20,000 text items
(min_votes 3, max_votes 5), the API served by gunicorn (WSGI; sync workers, or gthread workers
with keep-alive) from a separate process, clients with token auth in this process. Where the code
tree's settings keep tasks in the database (django-tasks-db), its `manage.py db_worker` runs
beside gunicorn, so the re-estimations the votes ask for are still done, outside the requests.

Prints: one client's votes/s and latency; then (unless --skip-crowd, and never with
--before-rev) 50 clients without think time (saturation) and 50 clients thinking 0.5–1.5 s per
item (people), with total votes/s and p50/p95/p99 latency of the request that returns the next item.

--before-rev REV: a temporary `git worktree` of REV is served too, with the same interpreter and
packages (--before-env NAME=VALUE sets a variable for it alone: `--before-rev HEAD --before-env
QUORUM_SQLITE_CONN_MAX_AGE=0` measures one setting). Each code tree migrates and fills its own database once; every run then starts from a
fresh copy of it, and the two trees take turns (before, after, after, before, …) for --repeats
rounds, so drift on the machine falls on both. Prints each run, then per tree the median with the
range over repeats, and the after/before ratio of votes/s (median and range of the per-round ratios).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import ROOT, clone_database, drop_database, fresh_database  # noqa: E402

ITEMS = 20_000
CLIENTS = 50
WARM_UP = 50

# Runs in `manage.py shell` of the code tree being measured, today's or an older one: it finds
# each service where that tree keeps it (the area subpackages of issue 16, else the flat
# annotation.services) and needs nothing from tests/. annotation.models re-exports the models.
SETUP = """
import importlib, json
import annotation
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
from annotation.models import Item, Role

def service(name):
    for module in ("annotation.projects.services", "annotation.rulebook.services", "annotation.services"):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ModuleNotFoundError:
            continue
        if found is not None:
            return found
    raise ImportError(f"no service {name!r} in this code tree")

def labels(*keys):
    return [{"key": k, "name": k.title(), "definition": f"It is a {k}.", "hotkey": str(i + 1)} for i, k in enumerate(keys)]

User = get_user_model()
admin = User.objects.create_user("bench-admin")
p = service("project_create")(actor=admin, name="Bench", slug="bench", exact_slug=True, item_kind="text", min_votes=3, max_votes=5, gold_rate=0, lease_seconds=600)
service("rulebook_draft_save")(actor=admin, project=p, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "bird"))
service("rulebook_publish")(actor=admin, project=p)
Item.objects.bulk_create((Item(project=p, kind="text", text=f"item {i}", content_hash=f"h{i}", external_id=f"i{i}") for i in range(%(items)d)), batch_size=2000)
tokens = []
for n in range(%(clients)d + 1):
    u = User.objects.create_user(f"a{n}")
    service("member_add")(actor=admin, project=p, username=u.username, role=Role.ANNOTATOR)
    tokens.append(Token.objects.create(user=u).key)
if connection.vendor == "postgresql":
    connection.cursor().execute("ANALYZE")  # as import_items does after a large import
print(json.dumps({"tokens": tokens, "tasks": settings.TASKS["default"]["BACKEND"], "code": annotation.__file__}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        self.assignment = None

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        self.conn.request("POST", "/api/projects/bench" + path, body=json.dumps(body), headers=self.headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")

    def start(self) -> None:
        status, body = self.post("/next/", {})
        assert status == 200, body
        self.assignment = body["assignment"]

    def vote(self) -> float:
        """One round trip: vote and receive the next item. Returns its latency in seconds."""
        t = time.perf_counter()
        status, body = self.post("/votes/", {"item": self.assignment["item"]["id"], "client_id": uuid.uuid4().hex,
                                             "value": random.choice(["cat", "dog", "bird"]), "next": {"exclude": []}})  # fmt: skip
        latency = time.perf_counter() - t
        assert status == 201, (status, body)
        self.assignment = body["next"]
        assert self.assignment is not None, "the bench ran out of items"
        return latency


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000 if len(values) > 1 else values[0] * 1000


def crowd(port: int, tokens: list[str], seconds: float, think: tuple[float, float]) -> tuple[int, list[float], float]:
    clients = [Client(port, t) for t in tokens]
    for c in clients:
        c.start()
    latencies: list[list[float]] = [[] for _ in clients]
    stop = time.perf_counter() + seconds
    started = time.perf_counter()

    def work(i: int) -> None:
        rng = random.Random(i)
        while time.perf_counter() < stop:
            if think[1]:
                time.sleep(rng.uniform(*think))
            latencies[i].append(clients[i].vote())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for lat in latencies for x in lat]
    return len(flat), flat, elapsed


@dataclass
class Tree:
    """One code tree under test, and the database it filled once (copied for every run)."""

    name: str
    root: Path
    rev: str
    template: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)
    tasks: str = ""
    env: dict[str, str] = field(default_factory=dict)  # added to its environment (--before-env)

    @property
    def worker(self) -> bool:
        return self.tasks.startswith("django_tasks_db.")


def prepare(tree: Tree, backend: str) -> None:
    tree.template = {**fresh_database(backend, root=tree.root, tag=tree.name), **tree.env}
    if backend == "postgres":
        tree.template["QUORUM_DB_POOL"] = "0"  # sync workers keep their connection (CONN_MAX_AGE)
    manage = [sys.executable, str(tree.root / "manage.py")]
    out = subprocess.run([*manage, "shell", "-c", SETUP % {"items": ITEMS, "clients": CLIENTS}],
                         env=tree.template, check=True, cwd=tree.root, capture_output=True, text=True)  # fmt: skip
    made = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(made["code"]).resolve().is_relative_to(tree.root.resolve()), (made["code"], tree.root)
    tree.tokens, tree.tasks = made["tokens"], made["tasks"]


@contextmanager
def serving(tree: Tree, env: dict[str, str], workers: int, threads: int) -> Iterator[int]:
    """gunicorn serving ``tree`` on the database ``env`` names (and its db_worker, if its tasks
    wait in the database); the port. Both are stopped on leaving."""
    port = free_port()
    env = {**env, "PYTHONWARNINGS": "ignore:No directory at:UserWarning"}  # no collectstatic: the API only
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "quorum.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", *(["--worker-class", "gthread", "--threads", str(threads)] if threads else [])],
        env=env, cwd=tree.root,
    )  # fmt: skip
    procs = [server]
    if tree.worker:
        procs.append(subprocess.Popen([sys.executable, "manage.py", "db_worker", "--no-reload", "-v", "0"], env=env, cwd=tree.root))
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, "gunicorn exited"
                time.sleep(0.1)
        yield port
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)


@dataclass
class OneClient:
    votes_per_s: float
    p50: float
    p95: float
    p99: float


def one_client(port: int, token: str, votes: int) -> OneClient:
    one = Client(port, token)
    one.start()
    for _ in range(WARM_UP):
        one.vote()
    t = time.perf_counter()
    lat = [one.vote() for _ in range(votes)]
    elapsed = time.perf_counter() - t
    return OneClient(votes / elapsed, pct(lat, 50), pct(lat, 95), pct(lat, 99))


def layout_of(backend: str, workers: int, threads: int) -> str:
    return f"gunicorn {workers}×{threads} gthread, {backend}" if threads else f"gunicorn {workers} sync workers, {backend}"


def run_backend(backend: str, trees: list[Tree], args: argparse.Namespace) -> None:
    layout = layout_of(backend, args.workers, args.threads)
    for tree in trees:
        prepare(tree, backend)
        extra = "".join(f", {k}={v}" for k, v in tree.env.items())
        print(f"{backend}: {tree.name} = {tree.rev}{extra}, tasks {tree.tasks}{' + db_worker' if tree.worker else ''}", flush=True)
    results: dict[str, list[OneClient]] = {t.name: [] for t in trees}
    try:
        for r in range(args.repeats):
            for tree in trees if r % 2 == 0 else trees[::-1]:
                env = clone_database(tree.template, f"{tree.name}_run")
                with serving(tree, env, args.workers, args.threads) as port:
                    one = one_client(port, tree.tokens[-1], args.votes)
                    results[tree.name].append(one)
                    print(f"{layout:34} {tree.name:6} round {r + 1}: 1 client, in sequence   {one.votes_per_s:7.0f} votes/s   "
                          f"p50 {one.p50:5.1f} ms  p95 {one.p95:5.1f} ms  p99 {one.p99:5.1f} ms", flush=True)  # fmt: skip
                    if len(trees) == 1 and not args.skip_crowd and r == args.repeats - 1:
                        for label, think in (("50 clients, no think time", (0.0, 0.0)), ("50 clients, think 0.5-1.5 s", (0.5, 1.5))):
                            n, lat, elapsed = crowd(port, tree.tokens[:CLIENTS], args.seconds, think)
                            print(f"{layout:34} {label:23} {n / elapsed:7.0f} votes/s   "
                                  f"p50 {pct(lat, 50):5.1f} ms  p95 {pct(lat, 95):5.1f} ms  p99 {pct(lat, 99):5.1f} ms", flush=True)  # fmt: skip
                drop_database(env)
    finally:
        for tree in trees:
            drop_database(tree.template)
    for tree in trees:
        rs = results[tree.name]
        if len(rs) > 1:
            rate = [x.votes_per_s for x in rs]
            p50 = [x.p50 for x in rs]
            print(f"{layout:34} {tree.name:6} median of {len(rs)}: {statistics.median(rate):5.0f} votes/s "
                  f"(range {min(rate):.0f}–{max(rate):.0f}), p50 {statistics.median(p50):.2f} ms "
                  f"(range {min(p50):.2f}–{max(p50):.2f})", flush=True)  # fmt: skip
    if len(trees) == 2:
        before, after = (results[t.name] for t in trees)
        ratios = [a.votes_per_s / b.votes_per_s for a, b in zip(after, before, strict=True)]
        print(f"{layout:34} after/before votes/s: {statistics.median(ratios):.2f}× "
              f"(range over {len(ratios)} rounds {min(ratios):.2f}–{max(ratios):.2f}×)", flush=True)  # fmt: skip


def rev_of(root: Path, rev: str = "HEAD") -> str:
    out = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h %s", rev], capture_output=True, text=True, check=True)
    line = out.stdout.strip()
    line = line if len(line) <= 72 else line[:71] + "…"
    if rev == "HEAD":
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        line += " (+ uncommitted changes)" if dirty.stdout.strip() else ""
    return line


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A temporary checkout of ``rev`` (a detached `git worktree`), removed on leaving."""
    folder = Path(tempfile.mkdtemp(prefix="quorum-bench-before-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(folder), rev], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False)
        shutil.rmtree(folder.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20, help="length of each 50-client part")
    parser.add_argument("--threads", type=int, default=0, help="gthread worker threads (keep-alive); 0: sync workers")
    parser.add_argument("--votes", type=int, default=1500, help="votes timed per one-client run (after a warm-up of 50)")
    parser.add_argument("--before-rev", help="also serve this git revision, and compare (one client only)")
    parser.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE",
                        help="set for the before tree only, e.g. --before-rev HEAD --before-env QUORUM_SQLITE_CONN_MAX_AGE=0")
    parser.add_argument("--repeats", type=int, help="one-client runs per code tree (default 1; 5 with --before-rev)")
    parser.add_argument("--skip-crowd", action="store_true", help="one client only: skip the 50-client parts")
    args = parser.parse_args()
    args.repeats = args.repeats or (5 if args.before_rev else 1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {ITEMS:,} items, clients in one process on the same machine "
          f"(keep-alive, token auth)", flush=True)  # fmt: skip
    after = Tree("after" if args.before_rev else "this", ROOT, rev_of(ROOT))
    with worktree(args.before_rev) if args.before_rev else nullcontext() as before_root:
        before_env = dict(pair.split("=", 1) for pair in args.before_env)
        trees = [after] if before_root is None else [Tree("before", before_root, rev_of(ROOT, args.before_rev), env=before_env), after]
        for backend in args.backends.split(","):
            run_backend(backend.strip(), trees, args)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
