"""Live events: how late a vote's `vote.cast` event reaches 100 open dashboard sockets.

    .venv/bin/python bench/live.py [--configs memory,redis] [--sockets 100] [--votes 200] [--rate 20]
        [--pg-url postgres://postgres@127.0.0.1:5432/quorum_bench_live] [--redis-url redis://127.0.0.1:6379/13]

Two configurations, each on a fresh database: ``memory`` is the embedded default, one daphne
process with the in-memory channel layer on SQLite; ``redis`` is the scale setup, PostgreSQL
(``--pg-url``; its database name must contain "bench", and it is dropped and made anew) and the
Redis channel layer (``--redis-url``: a database index of the bench's own, whose channels_redis
keys are deleted before and after the run), with two daphne processes: the sockets are open on
process B and the votes go through process A, so every event crosses from one process to the
other through Redis.

Setup (not timed): an admin, 4 annotators with API tokens, a project with a published rulebook of
3 labels (min_votes 3, max_votes 5) and 2,000 text items. Re-estimation is switched off
(``QUORUM_REESTIMATE_EVERY``), so no vote runs or enqueues a project-wide task.

Measured: ``--sockets`` WebSockets to ``/ws/projects/bench-live/``, all with the admin's session
cookie and an allowed Origin, the way the dashboard connects, held by one asyncio process
(``websockets``). A separate process casts ``--votes`` votes through the labeling API
(``POST /votes/`` with ``next``, token auth, ``http.client``), in sequence and paced at ``--rate``
votes/s, the annotators taking turns, after 10 warm-up votes. For every `vote.cast` event on every
socket, delay = the time the socket's reader got it − the payload's ``at`` (``time.time()`` in the
on-commit callback; client and servers share this machine's clock, and its two cores).

Prints: the machine and layout; deliveries received of those expected, and any socket the server
closed after it connected (with its close code); delay p50/p95/max over all deliveries; per vote,
the median delay of the first and of the last socket to hear it; the median delay over the first and
the last tenth of the votes (growing when the server cannot keep up); votes/s achieved and the vote
request's p50/p95; CPU seconds while voting, by process, and of everything else on the machine
(other jobs on a shared machine show up there: a run with several seconds of it is not clean).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fresh import ROOT, fresh_database, fresh_postgres  # noqa: E402

SLUG = "bench-live"
ITEMS = 2_000
ANNOTATORS = 4
WARM_UP = 10
PG_URL = os.environ.get("BENCH_LIVE_PG_URL", "postgres://postgres@127.0.0.1:5432/quorum_bench_live")
REDIS_URL = os.environ.get("BENCH_LIVE_REDIS_URL", "redis://127.0.0.1:6379/13")
DAPHNE = str(Path(sys.executable).parent / "daphne")
CLK_TCK = os.sysconf("SC_CLK_TCK")

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from annotation import services
from annotation.models import Item, Role
from tests.conftest import labels
User = get_user_model()
admin = User.objects.create_user("bench-admin")
p = services.project_create(actor=admin, name="Bench live", slug=%(slug)r, exact_slug=True, item_kind="text", min_votes=3, max_votes=5, gold_rate=0, lease_seconds=600)
services.rulebook_draft_save(actor=admin, project=p, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "bird"))
services.rulebook_publish(actor=admin, project=p)
Item.objects.bulk_create((Item(project=p, kind="text", text=f"item {i}", content_hash=f"h{i}", external_id=f"i{i}") for i in range(%(items)d)), batch_size=2000)
tokens = []
for n in range(%(annotators)d):
    u = User.objects.create_user(f"annotator{n}")
    services.member_add(actor=admin, project=p, username=u.username, role=Role.ANNOTATOR)
    tokens.append(Token.objects.create(user=u).key)
from django.db import connection
if connection.vendor == "postgresql":
    connection.cursor().execute("ANALYZE")
browser = Client()
browser.force_login(admin)
print(json.dumps({"session": browser.cookies["sessionid"].value, "tokens": tokens}))
"""


# --- servers ----------------------------------------------------------------------------------


def redis_clear(url: str) -> None:
    """Delete channels_redis's keys (prefix ``asgi``) in the bench's Redis database. Every run's
    project has the same id, and a consumer that never got to leave its groups (its process
    stopped first, or it crashed) stays a member for channels_redis's ``group_expiry``, a day: a
    later run would fan out to every such channel too."""
    import redis

    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter("asgi*", count=1000))
    if keys:
        r.delete(*keys)
    r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daphne(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """A daphne process serving Quorum on a free port, warmed up: Django loads the URLconf (and
    with it numpy and scipy, seconds of CPU) on the first request, not at start."""
    port = free_port()
    proc = subprocess.Popen(
        [DAPHNE, "-b", "127.0.0.1", "-p", str(port), "-v", "0", "quorum.asgi:application"], env=env, cwd=ROOT
    )
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"daphne exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        stop(proc)
        raise SystemExit("daphne did not start listening within 30 s")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/accounts/login/")
    conn.getresponse().read()
    conn.close()
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine_busy() -> float:
    """CPU seconds all processes on this machine have used so far (Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait


def service_pids(database: str) -> list[int]:
    """The Redis server and this run's PostgreSQL backends (their process titles name the database)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith("redis-server") or cmd.startswith("postgres:") and f" {database} " in cmd:
                pids.append(int(d.name))
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the voter: a separate process, so that blocking HTTP never delays the sockets' reader ------


def voter(port: int, tokens: list[str], votes: int, rate: float) -> None:
    """Cast ``WARM_UP`` then ``votes`` votes in sequence, paced at ``rate``/s, annotators taking
    turns; print a JSON line: the time measuring began, the elapsed time, each request's latency."""
    clients = []
    for token in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        clients.append([conn, headers, None])

    def post(client: list, path: str, body: dict) -> dict:
        conn, headers, _ = client
        conn.request("POST", f"/api/projects/{SLUG}{path}", body=json.dumps(body), headers=headers)
        r = conn.getresponse()
        data = json.loads(r.read() or b"{}")
        if r.status not in (200, 201):
            raise SystemExit(f"{path}: {r.status} {data}")
        return data

    for client in clients:
        client[2] = post(client, "/next/", {})["assignment"]

    def vote(i: int) -> float:
        client = clients[i % len(clients)]
        t = time.perf_counter()
        body = {
            "item": client[2]["item"]["id"],
            "client_id": uuid.uuid4().hex,
            "value": ("cat", "dog", "bird")[i % 3],
            "next": {"exclude": []},
        }
        client[2] = post(client, "/votes/", body)["next"]
        assert client[2] is not None, "the bench ran out of items"
        return time.perf_counter() - t

    for i in range(WARM_UP):
        vote(i)
        time.sleep(1 / rate)
    print("measuring", flush=True)
    started = time.time()
    t0 = time.perf_counter()
    latencies = []
    for i in range(votes):
        wait = t0 + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        latencies.append(vote(WARM_UP + i))
    elapsed = time.perf_counter() - t0
    print(json.dumps({"started": started, "elapsed": elapsed, "latencies": latencies}), flush=True)


# --- the dashboards: many sockets in one event loop -------------------------------------------


async def listen(
    ws_port: int,
    http_port: int,
    session: str,
    tokens: list[str],
    args: argparse.Namespace,
    servers: dict[str, int],
    database: str | None,
) -> dict:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    url = f"ws://127.0.0.1:{ws_port}/ws/projects/{SLUG}/"
    headers = {"Cookie": f"sessionid={session}"}
    gate = asyncio.Semaphore(10)

    async def open_one() -> object:
        async with gate:
            return await connect(
                url, origin=f"http://127.0.0.1:{ws_port}", additional_headers=headers, open_timeout=30
            )

    sockets = await asyncio.gather(*(open_one() for _ in range(args.sockets)))
    extensions = (sockets[0].response.headers.get("Sec-WebSocket-Extensions") if sockets else None) or "none"
    heard: list[list[tuple[float, dict]]] = [[] for _ in sockets]
    others = 0
    dropped: list[int | None] = []  # close codes of sockets the server closed during the run

    async def read(i: int, ws: object) -> None:
        nonlocal others
        try:
            async for message in ws:
                t = time.time()
                payload = json.loads(message)
                if payload.get("type") == "vote.cast":
                    heard[i].append((t, payload))
                else:
                    others += 1
        except ConnectionClosed:
            pass
        dropped.append(ws.close_code)

    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
    await asyncio.sleep(1)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--voter", json.dumps({"port": http_port, "tokens": tokens, "votes": args.votes, "rate": args.rate}),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        await proc.stdout.readline()  # warmed up: measuring from here
        cpu = {name: cpu_seconds(pid) for name, pid in servers.items()}
        services = {pid: cpu_seconds(pid) for pid in service_pids(database)} if database else {}
        own, children, busy = (
            time.process_time(),
            resource.getrusage(resource.RUSAGE_CHILDREN),
            machine_busy(),
        )
        window = time.perf_counter()
        out = await proc.stdout.read()
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode:
        raise SystemExit(f"the voter failed ({proc.returncode})")
    result = json.loads(out.decode().strip().splitlines()[-1])
    # Wait for the stragglers on the sockets still open (at most 10 s); count the measured votes' events.
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        if all(
            r.done() or sum(p["at"] >= result["started"] for _, p in h) >= args.votes
            for r, h in zip(readers, heard, strict=True)
        ):
            break
        await asyncio.sleep(0.05)
    cpu = {name: cpu_seconds(servers[name]) - before for name, before in cpu.items()}
    cpu["sockets' client"] = time.process_time() - own
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["voter"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    if database:
        cpu["PostgreSQL and Redis servers"] = sum(cpu_seconds(pid) - t for pid, t in services.items())
    cpu["everything else on the machine"] = max(0.0, machine_busy() - busy - sum(cpu.values()))
    window = time.perf_counter() - window
    dropped_during_run = list(dropped)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.gather(*readers, return_exceptions=True)
    measured = [[(t, p) for t, p in h if p["at"] >= result["started"]] for h in heard]
    return {"voter": result, "measured": measured, "others": others, "extensions": extensions, "cpu": cpu,
            "window": window, "dropped": dropped_during_run}  # fmt: skip


# --- report -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile of ``values`` (seconds), in ms."""
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000
        if len(values) > 1
        else values[0] * 1000
    )


def report(name: str, layout: str, run: dict, args: argparse.Namespace) -> None:
    measured = run["measured"]
    delays = [t - p["at"] for h in measured for t, p in h]
    per_vote: dict[tuple[int, str], list[float]] = {}
    committed: dict[tuple[int, str], float] = {}
    for h in measured:
        for t, p in h:
            per_vote.setdefault((p["item"], p["annotator"]), []).append(t - p["at"])
            committed[(p["item"], p["annotator"])] = p["at"]
    first = [min(d) for d in per_vote.values()]
    last = [max(d) for d in per_vote.values()]
    in_order = sorted(per_vote, key=committed.__getitem__)
    tenth = max(1, len(in_order) // 10)
    early = [x for k in in_order[:tenth] for x in per_vote[k]]
    late = [x for k in in_order[-tenth:] for x in per_vote[k]]
    v = run["voter"]
    expected = args.votes * args.sockets
    print(f"\n{name}: {layout}")
    print(f"  {args.sockets} sockets (permessage extensions: {run['extensions']}), {args.votes} votes → "
          f"{len(delays):,} of {expected:,} deliveries; {run['others']:,} other events (item.decided …)")  # fmt: skip
    if run["dropped"]:
        print(
            f"  {len(run['dropped'])} sockets closed by the server during the run, close codes {sorted(run['dropped'], key=str)}"
        )
    if delays:
        print(
            f"  delay commit → socket:  p50 {pct(delays, 50):6.1f} ms   p95 {pct(delays, 95):6.1f} ms   max {max(delays) * 1000:6.1f} ms"
        )
        print(
            f"  per vote, median:       first socket {statistics.median(first) * 1000:5.1f} ms   last socket {statistics.median(last) * 1000:5.1f} ms"
        )
        print(
            f"  over the run, p50:      first tenth of votes {pct(early, 50):5.1f} ms   last tenth {pct(late, 50):5.1f} ms"
        )
    lat = v["latencies"]
    print(
        f"  votes: {args.votes / v['elapsed']:.1f}/s achieved (paced at {args.rate:g}/s), request p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms"
    )
    print("  CPU seconds while voting: " + ", ".join(f"{k} {s:.2f}" for k, s in run["cpu"].items())
          + f" (in {run['window']:.1f} s: {os.cpu_count()} × that available)", flush=True)  # fmt: skip


def run_config(name: str, args: argparse.Namespace) -> None:
    if name == "memory":
        env = fresh_database("sqlite")
    elif name == "redis":
        import redis

        try:
            redis.Redis.from_url(args.redis_url).ping()
        except redis.ConnectionError as e:
            raise SystemExit(f"Redis at {args.redis_url}: {e}") from e
        redis_clear(args.redis_url)
        env = fresh_postgres(args.pg_url)
        env["REDIS_URL"] = args.redis_url
    else:
        raise SystemExit(f"unknown configuration {name!r}: memory or redis")
    env["QUORUM_REESTIMATE_EVERY"] = str(10**9)
    setup = SETUP % {"slug": SLUG, "items": ITEMS, "annotators": ANNOTATORS}
    out = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", setup],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    procs: list[subprocess.Popen] = []
    try:
        a, port_a = daphne(env)
        procs.append(a)
        if name == "memory":
            port_b, servers = port_a, {"daphne": a.pid}
            layout = "1 daphne process, in-memory channel layer, SQLite (WAL); sockets and votes on the same process"
        else:
            b, port_b = daphne(env)
            procs.append(b)
            servers = {"daphne A (votes)": a.pid, "daphne B (sockets)": b.pid}
            layout = ("2 daphne processes, Redis channel layer (channels_redis), PostgreSQL with Django's pool; "
                      "votes through A, sockets on B")  # fmt: skip
        database = urlsplit(env["DATABASE_URL"]).path.lstrip("/") if "DATABASE_URL" in env else None
        run = asyncio.run(listen(port_b, port_a, data["session"], data["tokens"], args, servers, database))
        report(name, layout, run, args)
    finally:
        for proc in reversed(procs):
            stop(proc)
        if "REDIS_URL" in env:
            redis_clear(env["REDIS_URL"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="memory,redis")
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--votes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20, help="votes per second, in sequence")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--voter", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.voter:
        voter(**json.loads(args.voter))
        return
    import websockets

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; websockets {websockets.__version__}; client and servers on the same cores")  # fmt: skip
    for name in args.configs.split(","):
        run_config(name.strip(), args)


if __name__ == "__main__":
    main()
