"""gunicorn's WSGI workers keep their database connection from one request to the next
(SQLite: ``QUORUM_SQLITE_CONN_MAX_AGE``, which ``quorum/wsgi.py`` sets; PostgreSQL: persistent
connections with ``QUORUM_DB_POOL=0``, as the README serves gunicorn), and annotators voting at
once through two workers lose nothing and meet no "database is locked".

The server is a real gunicorn on the test database: the data is committed (``transaction=True``)
and the server is stopped before the tables are flushed.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.models import Item, Vote
from tests.conftest import api_client, publish
from tests.factories import UserFactory
from tests.test_background_worker import BASE_DIR, process_env

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 2
ANNOTATORS = 4
VOTES_EACH = 15
APP_NAME = "quorum-wsgi-connections-test"  # names the server's PostgreSQL sessions (libpq's PGAPPNAME)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(conn: http.client.HTTPConnection, path: str, body: dict, token: str = "") -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def database_connections(master: int) -> list[int]:
    """How many connections to the test database each gunicorn worker holds now (SQLite: one figure
    per worker; PostgreSQL: one figure for both, as it does not see its clients' pids)."""
    workers = [
        int(p)
        for p in subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    ]
    assert len(workers) == WORKERS, workers
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        return [
            sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.readlink().as_posix() == name)
            for pid in workers
        ]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return [cur.fetchone()[0]]


def test_gunicorn_workers_keep_their_connection_and_lose_no_vote(team, settings, tmp_path):
    publish(team, "cat", "dog")
    team.project.min_votes, team.project.gold_rate = 2, 0
    team.project.save()
    for i in range(ANNOTATORS * VOTES_EACH):
        Item.objects.create(
            project=team.project, kind="text", text=f"t{i}", content_hash=f"h{i}", external_id=f"e{i}"
        )
    admin = api_client(team.admin)
    tokens = []
    for n in range(ANNOTATORS):
        user = UserFactory(username=f"wsgi-annotator-{n}")
        response = admin.post(
            f"/api/projects/{team.project.slug}/members/",
            {"username": user.username, "role": "annotator"},
            format="json",
        )
        assert response.status_code == 201, response.content
        tokens.append(Token.objects.create(user=user).key)

    port = free_port()
    env = process_env(settings)
    env["QUORUM_REESTIMATE_EVERY"] = str(10**9)
    env["PGAPPNAME"] = APP_NAME
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "quorum.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}"],
            cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    statuses: list[int] = []
    errors: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

        url = f"/api/projects/{team.project.slug}"
        start = threading.Barrier(ANNOTATORS)

        def annotate(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            token = tokens[n]
            start.wait()
            status, body = post(conn, f"{url}/next/", {}, token)
            if status != 200:
                errors.append(f"next: {status} {body}")
                return
            assignment = body["assignment"]
            for v in range(VOTES_EACH):
                vote = {"item": assignment["item"]["id"], "client_id": f"wsgi-{n}-{v:04d}", "value": "cat", "next": {"exclude": []}}  # fmt: skip
                status, body = post(conn, f"{url}/votes/", vote, token)
                statuses.append(status)
                if status != 201:
                    errors.append(f"vote: {status} {body}")
                    break
                assignment = body["next"]

        threads = [threading.Thread(target=annotate, args=(n,)) for n in range(ANNOTATORS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        held = database_connections(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert not errors, errors
    assert statuses == [201] * (ANNOTATORS * VOTES_EACH), log.read_text()
    assert Vote.objects.filter(project=team.project).count() == ANNOTATORS * VOTES_EACH
    # Every request is over, yet the workers still hold their connections (at most one each):
    # without persistent connections each would have closed its own at the end of each request.
    assert 1 <= sum(held) <= WORKERS and (connection.vendor != "sqlite" or max(held) <= 1), held
    assert "database is locked" not in log.read_text()
