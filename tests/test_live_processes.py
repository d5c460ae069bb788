"""Two server processes, one PostgreSQL, one Redis: an event caused through one process reaches
a WebSocket held by the other, through the Redis channel layer, to its audience only.

Runs in .ci/run's second pass (DATABASE_URL and REDIS_URL set); a missing server fails it.
The servers are real daphne processes on the test database, so the data is committed first
(``transaction=True``) and they are stopped before the test's tables are flushed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import global_settings
from django.db import connection

from annotation.items.models import Item
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.conftest import labels
from tests.factories import PASSWORD, UserFactory

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # seconds for a daphne process to answer HTTP
EVENT_TIMEOUT = 5.0  # seconds for an event to cross from one process to the other


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def free_ports(n: int) -> list[int]:
    """n distinct ports the kernel had free a moment ago (held open together so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def request(
    port: int, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def cookies_set(headers: http.client.HTTPMessage) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"daphne {server.name} exited with {server.process.returncode}:\n{server.output()}")
        try:
            status, _, _ = request(server.port, "GET", "/accounts/login/")
        except OSError:
            time.sleep(0.1)
            continue
        assert status == 200, (
            f"daphne {server.name}: GET /accounts/login/ answered {status}\n{server.output()}"
        )
        return
    pytest.fail(
        f"daphne {server.name} did not answer on port {server.port} within {START_TIMEOUT:.0f} s:\n{server.output()}"
    )


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def server_env(settings: Any) -> dict[str, str]:
    """The environment of a server process on the test database (the one pytest-django created,
    test_<name>, not the one named in DATABASE_URL) and the suite's Redis."""
    database_url = (
        urlsplit(settings.DATABASE_URL)._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quorum.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "QUORUM_ALLOWED_HOSTS": "127.0.0.1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests; the servers run as deployed
    return env


def daphne_start(name: str, port: int, env: dict[str, str], log: Path) -> Server:
    """A daphne process on ``port``, its output appended to ``log``; not yet serving."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "quorum.asgi:application"],
            cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return Server(name, port, process, log)


@pytest.fixture
def servers(transactional_db, settings, tmp_path) -> Iterator[tuple[Server, Server]]:
    """Two daphne processes on the test database and the suite's Redis, stopped whatever happens."""
    assert settings.DATABASE_URL.startswith("postgres"), "set DATABASE_URL=postgres://… for this test"
    assert connection.vendor == "postgresql"
    assert settings.REDIS_URL, "set REDIS_URL=redis://… for this test"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    env = server_env(settings)
    started: list[Server] = []
    try:
        for name, port in zip("AB", free_ports(2), strict=True):
            started.append(daphne_start(name, port, env, tmp_path / f"daphne-{name}.log"))
        for server in started:
            wait_until_serving(server)
        a, b = started
        yield a, b
    finally:
        for server in started:
            stop(server)


def log_in(server: Server, username: str) -> dict[str, str]:
    """Log in through the login page; returns the cookies (sessionid, csrftoken)."""
    status, headers, _ = request(server.port, "GET", "/accounts/login/")
    cookies = cookies_set(headers)
    form = urlencode(
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": cookies["csrftoken"]}
    )
    status, headers, body = request(
        server.port, "POST", "/accounts/login/", body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header(cookies)},
    )  # fmt: skip
    assert status == 302, f"login of {username} on {server.name} answered {status}: {body[:500]!r}"
    cookies.update(cookies_set(headers))
    assert "sessionid" in cookies
    return cookies


def api_post(server: Server, cookies: dict[str, str], path: str, data: dict[str, Any]) -> tuple[int, Any]:
    status, _, body = request(
        server.port, "POST", path, body=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Cookie": cookie_header(cookies), "X-CSRFToken": cookies["csrftoken"]},
    )  # fmt: skip
    return status, json.loads(body)


@contextmanager
def open_socket(server: Server, cookies: dict[str, str], slug: str) -> Iterator[ClientConnection]:
    """The project's WebSocket on ``server`` with this session, from an allowed origin; answers a ping."""
    from websockets.sync.client import connect

    with connect(
        f"ws://127.0.0.1:{server.port}/ws/projects/{slug}/",
        origin=f"http://127.0.0.1:{server.port}",
        additional_headers={"Cookie": f"sessionid={cookies['sessionid']}"},
        proxy=None, open_timeout=EVENT_TIMEOUT,
    ) as ws:  # fmt: skip
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=EVENT_TIMEOUT)) == {"type": "pong"}
        yield ws


def receive_until(ws: ClientConnection, event_type: str) -> list[dict[str, Any]]:
    """Every message up to and including the first of ``event_type``; fails after EVENT_TIMEOUT."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + EVENT_TIMEOUT
    while not seen or seen[-1]["type"] != event_type:
        left = deadline - time.monotonic()
        try:
            seen.append(json.loads(ws.recv(timeout=max(left, 0.01))))
        except TimeoutError:
            pytest.fail(f"no {event_type!r} within {EVENT_TIMEOUT:.0f} s; received {seen}")
    return seen


def test_an_event_caused_on_one_process_reaches_a_socket_on_another(servers, settings):
    a, b = servers
    # The servers check passwords with Django's default hashers, not the suite's fast MD5.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    admin = UserFactory(username="live-admin")
    annotator = UserFactory(username="live-annotator")
    project = projects_services.project_create(actor=admin, name="Live processes", item_kind="text")
    projects_services.member_add(actor=admin, project=project, username=annotator.username, role=Role.ANNOTATOR)
    rulebook_services.rulebook_draft_save(
        actor=admin, project=project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog"),
    )  # fmt: skip
    rulebook_services.rulebook_publish(actor=admin, project=project)
    item = Item.objects.create(
        project=project, kind="text", text="a cat", content_hash="live-1", external_id="live-1"
    )

    # Both log in on B and listen there.
    admin_b, annotator_b = log_in(b, admin.username), log_in(b, annotator.username)
    with (
        open_socket(b, admin_b, project.slug) as admin_ws,
        open_socket(b, annotator_b, project.slug) as annotator_ws,
    ):
        # The annotator works through A, with the session made on B (sessions live in the database).
        status, body = api_post(a, annotator_b, f"/api/projects/{project.slug}/next/", {})
        assert status == 200, body
        assert body["assignment"]["item"]["id"] == item.pk
        status, body = api_post(
            a,
            annotator_b,
            f"/api/projects/{project.slug}/votes/",
            {"item": item.pk, "client_id": "live-vote-0001", "value": "cat"},
        )
        assert status == 201, body

        # Staff hear the vote on B.
        event = receive_until(admin_ws, "vote.cast")[-1]
        assert time.time() - EVENT_TIMEOUT < event.pop("at") <= time.time()
        assert event == {"type": "vote.cast", "item": item.pk, "annotator": annotator.username}

        # The admin republishes through A: every member hears it on B, the annotator included, and
        # the annotator hears nothing before it. The vote was sent to Redis first, so had their
        # socket been in the staff group, vote.cast would have come first.
        rulebook_services.rulebook_draft_save(
            actor=admin, project=project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "bird"),
        )  # fmt: skip
        status, body = api_post(
            a, log_in(a, admin.username), f"/api/projects/{project.slug}/rulebook/publish/", {}
        )
        assert status == 201, body
        heard = receive_until(annotator_ws, "rulebook.published")
        assert [e["type"] for e in heard] == ["rulebook.published"]
        assert (heard[0]["version"], heard[0]["labels"]) == (2, 3)
        assert receive_until(admin_ws, "rulebook.published")[-1]["version"] == 2
