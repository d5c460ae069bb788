"""The annotator's round trip over HTTP: one client in sequence, then 50 at once.

    .venv/bin/python bench/annotate.py [--backends sqlite,postgres] [--workers 2] [--seconds 20]

One round trip is one request: POST /votes/ with `next`, whose answer carries the next item
(the page works this way). For each backend: a fresh database with 20,000 text items
(min_votes 3, max_votes 5), the API served by gunicorn (WSGI; sync workers, or gthread workers
with keep-alive) from a separate process, clients with token auth in this process.

Prints: one client's votes/s and latency; 50 clients without think time (saturation) and
50 clients thinking 0.5–1.5 s per item (people), with total votes/s and p50/p95/p99 latency
of the request that returns the next item.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import ROOT, fresh_database  # noqa: E402

ITEMS = 20_000
CLIENTS = 50

SETUP = """
import json, sys
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from annotation import services
from annotation.models import Item, Role
from tests.conftest import labels
User = get_user_model()
admin = User.objects.create_user("bench-admin")
p = services.project_create(actor=admin, name="Bench", slug="bench", exact_slug=True, item_kind="text", min_votes=3, max_votes=5, gold_rate=0, lease_seconds=600)
services.rulebook_draft_save(actor=admin, project=p, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "bird"))
services.rulebook_publish(actor=admin, project=p)
Item.objects.bulk_create((Item(project=p, kind="text", text=f"item {i}", content_hash=f"h{i}", external_id=f"i{i}") for i in range(%(items)d)), batch_size=2000)
tokens = []
for n in range(%(clients)d + 1):
    u = User.objects.create_user(f"a{n}")
    services.member_add(actor=admin, project=p, username=u.username, role=Role.ANNOTATOR)
    tokens.append(Token.objects.create(user=u).key)
from django.db import connection
if connection.vendor == "postgresql":
    connection.cursor().execute("ANALYZE")  # as import_items does after a large import
print(json.dumps(tokens))
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


def run_backend(backend: str, workers: int, seconds: float, threads: int) -> None:
    env = fresh_database(backend)
    if backend == "postgres":
        env["QUORUM_DB_POOL"] = "0"  # sync workers keep their connection (CONN_MAX_AGE)
    manage = [sys.executable, str(ROOT / "manage.py")]
    out = subprocess.run([*manage, "shell", "-c", SETUP % {"items": ITEMS, "clients": CLIENTS}], env=env, check=True, cwd=ROOT, capture_output=True, text=True)
    tokens = json.loads(out.stdout.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "quorum.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", *(["--worker-class", "gthread", "--threads", str(threads)] if threads else [])],
        env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        layout = f"gunicorn {workers}×{threads} gthread, {backend}" if threads else f"gunicorn {workers} sync workers, {backend}"
        one = Client(port, tokens[-1])
        one.start()
        for _ in range(50):
            one.vote()  # warm up
        t = time.perf_counter()
        lat = [one.vote() for _ in range(1500)]
        elapsed = time.perf_counter() - t
        print(f"{layout:34} 1 client, in sequence   {1500 / elapsed:7.0f} votes/s   "
              f"p50 {pct(lat, 50):5.1f} ms  p95 {pct(lat, 95):5.1f} ms  p99 {pct(lat, 99):5.1f} ms", flush=True)  # fmt: skip
        for label, think in (("50 clients, no think time", (0.0, 0.0)), ("50 clients, think 0.5-1.5 s", (0.5, 1.5))):
            n, lat, elapsed = crowd(port, tokens[:CLIENTS], seconds, think)
            print(f"{layout:34} {label:23} {n / elapsed:7.0f} votes/s   "
                  f"p50 {pct(lat, 50):5.1f} ms  p95 {pct(lat, 95):5.1f} ms  p99 {pct(lat, 99):5.1f} ms", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=0, help="gthread worker threads (keep-alive); 0: sync workers")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}; "
          f"{ITEMS:,} items, clients in one process on the same machine (keep-alive, token auth)")  # fmt: skip
    for backend in args.backends.split(","):
        run_backend(backend.strip(), args.workers, args.seconds, args.threads)


if __name__ == "__main__":
    main()
