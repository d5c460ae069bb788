"""Votes under ``kill -9``: a crowd votes through the real HTTP API against a daphne process on
PostgreSQL, the server is killed with SIGKILL three times mid-run and started again, and the
clients retry whatever got no answer with the same ``client_id``. Afterwards:

- every vote the server acknowledged (2xx) is stored exactly once, under its id, and nothing is
  stored that no client sent; no ``client_id`` holds two votes;
- each item's ``votes_count`` is its number of current votes and ``leased_count`` its number of
  active leases; no item has more votes than it needs (``min_votes`` plus the extra votes the
  policy asked for, at most ``max_votes``), and no annotator two current votes on one item;
- a lease granted by a request whose server died before answering is a real lease: the client's
  retry of ``next`` is handed the same item (held leases come first), so no annotator holds
  two; once leases have expired, reclaiming them leaves every item with no lease counted.

Runs in .ci/run's second pass (DATABASE_URL and REDIS_URL set); without PostgreSQL it fails.
Every wait is bounded: the whole run must end within ``DEADLINE_S`` or the test fails.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.items.models import Item
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, LeaseStatus, Vote, VoteKind
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.conftest import labels
from tests.test_live_processes import Server, daphne_start, free_ports, server_env, wait_until_serving
from tests.test_live_processes import stop as server_stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 12
ITEMS = 1500
KILLS = 3
VOTES_BETWEEN_KILLS = 40  # acknowledged votes since the last start before the next kill
DEADLINE_S = 100.0  # the whole run, server starts included; a guard, not a speed test
REQUEST_TIMEOUT_S = 10.0
LEASE_S = 60  # longer than the run: a lease only ends by a vote, or by the reclaim at the end


class Annotator(threading.Thread):
    """One annotator's loop over HTTP: next item, vote with ``next``; a request that gets no
    answer (the server died, or is down) is sent again unchanged until one comes."""

    def __init__(self, n: int, port: int, slug: str, token: str, stop: threading.Event, deadline: float) -> None:
        super().__init__(daemon=True, name=f"annotator-{n}")
        self.n, self.port, self.api, self.token = n, port, f"/api/projects/{slug}", token
        self.stop, self.deadline, self.rng = stop, deadline, random.Random(n)
        self.conn: http.client.HTTPConnection | None = None
        self.sent: set[str] = set()  # every client_id sent
        self.acked: dict[str, int] = {}  # client_id -> vote id the server acknowledged
        self.statuses: Counter[int] = Counter()
        self.refused: Counter[str] = Counter()  # votes answered 409, by code
        self.unanswered: Counter[str] = Counter()  # requests that got no answer, by path
        self.stored_by_the_dead = 0  # retries answered 200: the killed server had stored the vote
        self.stored_on_retry = 0  # retries answered 201: the killed server had not
        self.errors: list[str] = []
        self.in_flight = ""  # the path of the request waiting for its answer

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """One attempt; None when no answer came."""
        self.in_flight = path
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
            headers = {"Content-Type": "application/json", "Authorization": f"Token {self.token}"}
            self.conn.request("POST", self.api + path, body=json.dumps(body), headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None
        finally:
            self.in_flight = ""
        self.statuses[response.status] += 1
        return response.status, (json.loads(raw) if raw else {})

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # surfaced by the test
            self.errors.append(f"annotator {self.n}: {exc!r}")
        finally:
            if self.conn is not None:
                self.conn.close()

    def _run(self) -> None:
        assignment: dict[str, Any] | None = None
        pending: dict[str, Any] | None = None  # the vote being sent, until it is answered
        retry = False
        while not self.stop.is_set():
            if time.monotonic() > self.deadline:
                self.errors.append(f"annotator {self.n}: still running at the deadline")
                return
            if pending is None and assignment is not None:
                pending = {"item": assignment["item"]["id"], "client_id": uuid.uuid4().hex,
                           "value": self.rng.choice(["cat", "cat", "dog"])}  # fmt: skip
                if self.rng.random() < 0.7:  # mostly one request per vote; else vote, then ask
                    pending["next"] = {"exclude": []}
                self.sent.add(pending["client_id"])
            path, body = ("/votes/", pending) if pending is not None else ("/next/", {})
            answer = self.post(path, body)
            if answer is None:
                self.unanswered[path] += not retry  # each request once, however often it is sent
                retry = True
                self.stop.wait(0.05)  # the server is down or restarting
                continue
            status, data = answer
            was_retry, retry = retry, False
            if pending is None:
                if status != 200:
                    self.errors.append(f"next answered {status}: {data}")
                    return
                assignment = data["assignment"]
                if assignment is None:
                    self.stop.wait(0.2)  # nothing for me now
                continue
            if status in (200, 201):
                self.acked[pending["client_id"]] = data["vote"]["id"]
                if status == 200 and not was_retry:
                    self.errors.append(f"a fresh client_id was answered as a retry: {data}")
                self.stored_by_the_dead += was_retry and status == 200
                self.stored_on_retry += was_retry and status == 201
                assignment = data["next"]  # None when asked without `next`: ask next time round
            elif status == 409:
                self.refused[data.get("code", "")] += 1
                assignment = None  # e.g. the item was decided meanwhile: ask again
            else:
                self.errors.append(f"vote answered {status}: {data}")
                return
            pending = None


def start_server(port: int, env: dict[str, str], log: Path) -> Server:
    server = daphne_start("fault", port, env, log)
    wait_until_serving(server)
    return server


def acknowledged(crowd: list[Annotator]) -> int:
    return sum(len(a.acked) for a in crowd)


def both_in_flight(crowd: list[Annotator]) -> bool:
    """A vote and a next-item request both wait for their answer: the moment to kill."""
    waiting = {a.in_flight for a in crowd}
    return "/votes/" in waiting and "/next/" in waiting


def test_votes_survive_kill_9_of_the_server_once_each_with_consistent_counters(transactional_db, settings, tmp_path):
    began = time.monotonic()
    deadline = began + DEADLINE_S
    assert connection.vendor == "postgresql", "this test runs against PostgreSQL (DATABASE_URL=postgres://…)"
    assert settings.REDIS_URL, "set REDIS_URL=redis://… for this test"
    User = get_user_model()
    admin = User.objects.create_user("fault-admin")
    project = projects_services.project_create(
        actor=admin, name="Kill nine", item_kind="text", min_votes=3, max_votes=5, gold_rate=0, lease_seconds=LEASE_S
    )
    rulebook_services.rulebook_draft_save(
        actor=admin, project=project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog")
    )
    rulebook_services.rulebook_publish(actor=admin, project=project)
    Item.objects.bulk_create(
        Item(project=project, kind="text", text=f"item {i}", content_hash=f"k{i}", external_id=f"k{i}") for i in range(ITEMS)
    )
    tokens = []
    for n in range(ANNOTATORS):
        user = User.objects.create_user(f"fault-{n}")
        projects_services.member_add(actor=admin, project=project, username=user.username, role=Role.ANNOTATOR)
        tokens.append(Token.objects.create(user=user).key)

    env = server_env(settings)
    (port,) = free_ports(1)
    log = tmp_path / "daphne.log"
    stop = threading.Event()
    crowd: list[Annotator] = []
    server: Server | None = None
    kills = 0
    try:
        server = start_server(port, env, log)
        crowd = [Annotator(n, port, project.slug, tokens[n], stop, deadline) for n in range(ANNOTATORS)]
        for a in crowd:
            a.start()
        for _ in range(KILLS):
            target = acknowledged(crowd) + VOTES_BETWEEN_KILLS
            while acknowledged(crowd) < target or not both_in_flight(crowd):  # kill it mid-run
                assert time.monotonic() < deadline, f"the crowd stalled at {acknowledged(crowd)} votes:\n{server.output()}"
                assert server.process.poll() is None, f"daphne exited by itself:\n{server.output()}"
                time.sleep(0.002)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            kills += 1
            server = start_server(port, env, log)  # same port: the clients keep retrying it
        target = acknowledged(crowd) + VOTES_BETWEEN_KILLS  # and it serves again after the last one
        while acknowledged(crowd) < target:
            assert time.monotonic() < deadline, f"no votes after the last restart:\n{server.output()}"
            time.sleep(0.02)
    finally:
        stop.set()
        for a in crowd:
            a.join(timeout=REQUEST_TIMEOUT_S + 5)
        if server is not None:
            server_stop(server)
    elapsed = time.monotonic() - began

    assert not [a.name for a in crowd if a.is_alive()], "annotator threads still running"
    assert [e for a in crowd for e in a.errors] == []
    statuses = sum((a.statuses for a in crowd), Counter())
    assert not [s for s in statuses if s >= 500], statuses
    refused = sum((a.refused for a in crowd), Counter())
    # A retry carries its first attempt's client_id: had the killed server stored the vote, the
    # retry is answered with it, never refused as a second vote on the item.
    assert refused["already_voted"] == 0, refused
    unanswered = sum((a.unanswered for a in crowd), Counter())
    assert kills == KILLS and unanswered["/votes/"] > 0, "no vote was in flight when the server was killed"
    assert unanswered["/next/"] > 0, "no next-item request was in flight when the server was killed"

    # Every acknowledged vote stored once, under the id the server gave; nothing no client sent.
    acked = {cid: vid for a in crowd for cid, vid in a.acked.items()}
    sent = set().union(*(a.sent for a in crowd))
    votes = Vote.objects.filter(project=project)
    assert dict(votes.filter(client_id__in=list(acked)).values_list("client_id", "id")) == acked
    assert set(votes.values_list("client_id", flat=True)) <= sent
    assert not votes.values("voter", "client_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not votes.exclude(kind=VoteKind.VOTE).exists()

    # Counters match the rows, and no item has more votes than it needs.
    current = votes.filter(superseded_by__isnull=True)
    assert not current.values("item", "voter").annotate(n=Count("id")).filter(n__gt=1).exists()
    per_item = dict(current.values_list("item").annotate(n=Count("id")))
    active = dict(
        Lease.objects.filter(project=project, status=LeaseStatus.ACTIVE).values_list("item").annotate(n=Count("id"))
    )
    rows = Item.objects.filter(project=project).values_list("id", "votes_count", "leased_count", "extra_votes")
    wrong = [
        (item_id, votes_count, per_item.get(item_id, 0), leased_count, active.get(item_id, 0))
        for item_id, votes_count, leased_count, _ in rows
        if (votes_count, leased_count) != (per_item.get(item_id, 0), active.get(item_id, 0))
    ]
    assert wrong == [], "(item, votes_count, current votes, leased_count, active leases)"
    over = [
        (item_id, votes_count, extra)
        for item_id, votes_count, _, extra in rows
        if votes_count > min(project.min_votes + extra, project.max_votes)
    ]
    assert over == [], "(item, votes, extra votes asked for)"

    # Leases granted by a request that died: handed back on the retry, never a second one.
    now = timezone.now()
    live = Lease.objects.filter(project=project, status=LeaseStatus.ACTIVE, expires_at__gt=now)
    assert not live.values("annotator").annotate(n=Count("id")).filter(n__gt=1).exists()
    labeling.leases_reclaim_expired(project=project, now=now + dt.timedelta(seconds=LEASE_S + 1))
    assert not Item.objects.filter(project=project).filter(~Q(leased_count=0)).exists()
    assert not Lease.objects.filter(project=project, status=LeaseStatus.ACTIVE).exists()

    print(
        f"\n{ANNOTATORS} annotators, {KILLS} kills, {elapsed:.1f} s: {len(acked)} votes acknowledged; "
        f"{unanswered['/votes/']} votes and {unanswered['/next/']} next-item requests went unanswered and were "
        f"sent again: {sum(a.stored_by_the_dead for a in crowd)} votes had been stored by the killed server (200), "
        f"{sum(a.stored_on_retry for a in crowd)} were stored on the retry (201); statuses {dict(statuses)}, "
        f"refused {dict(refused)}"
    )
