"""Streamed responses that fail: a status line when the failure comes before the first byte, an
ending that says so after it, and the request's database connection released either way — under
daphne (ASGI) and under Django's WSGI live server.

The export of a project with items and no rulebook used to fail inside its stream; under daphne
the client got no status line and the connection never went back to the pool, so after as many
such requests as the pool holds every request failed. Two views that exist only in these tests
fail on purpose (``urlpatterns`` below, used as ROOT_URLCONF), so the guarantee is checked for
any streamed response, not only the export as it is today.
"""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import include, path
from rest_framework.authtoken.models import Token

from annotation.items.models import Item
from quorum.urls import handler400, handler403, handler404, handler500  # noqa: F401 (this module is a URLconf)
from tests.annotation.labeling.test_services import add_items
from tests.conftest import daphne_server

ERROR_LINE = b"STREAM FAILED\n"
CLIENT_TIMEOUT = 8.0  # seconds to wait for a status line and the body
opened: list[object] = []  # the raw database connections the failing views used (in-process servers)


def _failing_rows(before_first: bool) -> Iterator[str]:
    Item.objects.exists()  # a query on this request's connection, then a failure
    opened.append(connection.connection)
    if before_first:
        raise RuntimeError("the stream failed before its first byte")
    for n in range(3):
        yield f"row {n} of {Item.objects.count()}\n"
    raise RuntimeError("the stream failed halfway")


def fails_at_start(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_failing_rows(True), content_type="text/plain")
    response.stream_error_chunk = ERROR_LINE
    return response


def fails_midway(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_failing_rows(False), content_type="text/plain")
    response.stream_error_chunk = ERROR_LINE
    return response


urlpatterns = [
    path("api/test/stream-fails-at-start/", fails_at_start),
    path("api/test/stream-fails-midway/", fails_midway),
    path("", include("quorum.urls")),
]


@pytest.fixture
def failing_streams(settings):
    settings.ROOT_URLCONF = __name__
    opened.clear()


def get(base: str, path: str, token: str = "") -> tuple[int, dict[str, str], bytes, bool]:
    """(status, headers, body, complete): ``complete`` is False when the server dropped the
    connection before the end of the body. A missing status line fails the test."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Authorization": f"Token {token}"} if token else {})
        try:
            response = conn.getresponse()
        except TimeoutError:
            pytest.fail(f"GET {path}: no status line within {CLIENT_TIMEOUT} s")
        try:
            body, complete = response.read(), True
        except http.client.IncompleteRead as e:
            body, complete = e.partial, False
        except TimeoutError:
            pytest.fail(f"GET {path}: status {response.status}, then the body never ended")
        return response.status, dict(response.headers), body, complete
    finally:
        conn.close()


def _no_rulebook_export(team) -> str:
    add_items(team.project, 3)
    return f"/api/projects/{team.project.slug}/export/?all_items=1"


def _check_fails_at_start(base: str, token: str) -> None:
    status, headers, body, _ = get(base, "/api/test/stream-fails-at-start/", token)
    assert status == 500
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == "server_error"


def _check_fails_midway(base: str, token: str, *, asgi: bool) -> None:
    status, _headers, body, complete = get(base, "/api/test/stream-fails-midway/", token)
    assert status == 200
    assert [line.split(b" of ")[0] for line in body.splitlines(keepends=True)] == [b"row 0", b"row 1", b"row 2", ERROR_LINE]
    if asgi:  # daphne cannot drop a connection for the application: the response ends, its last line says why
        assert complete


def test_under_daphne_a_failing_stream_answers_and_the_server_stays_healthy(team, transactional_db, failing_streams):
    token = Token.objects.create(user=team.admin).key
    with daphne_server() as (base, _pid):
        for _ in range(2):
            _check_fails_at_start(base, token)
            _check_fails_midway(base, token, asgi=True)
        status, _, body, _ = get(base, _no_rulebook_export(team), token)
        assert status == 200 and len(body.splitlines()) == 3
        assert get(base, "/api/projects/", token)[0] == 200


def test_under_wsgi_a_failing_stream_answers_and_closes_its_connection(team, live_server, failing_streams):
    token = Token.objects.create(user=team.admin).key
    _check_fails_at_start(live_server.url, token)
    _check_fails_midway(live_server.url, token, asgi=False)
    assert len(opened) == 2 and all(opened)
    if connection.vendor == "sqlite":  # PostgreSQL: given back to the pool, not closed (next test)
        for raw in opened:  # each view's own connection, closed once its request ended
            with pytest.raises(Exception, match="closed"):
                raw.cursor().execute("SELECT 1")
    assert get(live_server.url, "/api/projects/", token)[0] == 200


POOL_SIZE = 3
POOL_TIMEOUT = 3.0


def _small_pool() -> None:
    """In the daphne child: a pool of POOL_SIZE connections that gives up after POOL_TIMEOUT s."""
    from django.db import connections

    options = connections.settings["default"]["OPTIONS"]
    options["pool"] = {**options["pool"], "min_size": 1, "max_size": POOL_SIZE, "timeout": POOL_TIMEOUT}


@contextmanager
def _server(kind: str, live_server) -> Iterator[tuple[str, int]]:
    """daphne in a child with a pool of POOL_SIZE; or the WSGI live server, in this process,
    with this process's pool (the configured size)."""
    if kind == "daphne":
        with daphne_server(setup=_small_pool) as (base, _pid):
            yield base, POOL_SIZE
    else:
        yield live_server.url, connection.settings_dict["OPTIONS"]["pool"]["max_size"]


@pytest.mark.postgres
@pytest.mark.parametrize("server", ["daphne", "wsgi"])
@pytest.mark.parametrize("case", ["export without rulebook", "fails at start", "fails midway"])
def test_failing_streams_never_exhaust_the_connection_pool(team, transactional_db, live_server, failing_streams, server, case):
    """Pool size + 1 failing streams, then an ordinary request: answered at once."""
    assert connection.vendor == "postgresql" and isinstance(connection.settings_dict["OPTIONS"].get("pool"), dict), (
        "run with DATABASE_URL=postgres://… and the pool on (QUORUM_DB_POOL unset)"
    )
    token = Token.objects.create(user=team.admin).key
    export = _no_rulebook_export(team)
    with _server(server, live_server) as (base, pool_size):
        for _ in range(pool_size + 1):
            if case == "export without rulebook":
                assert get(base, export, token)[0] == 200
            elif case == "fails at start":
                _check_fails_at_start(base, token)
            else:
                _check_fails_midway(base, token, asgi=server == "daphne")
        status, _, body, _ = get(base, "/api/projects/", token)
        assert status == 200, body[:300]
        assert [p["slug"] for p in json.loads(body)] == [team.project.slug]


def _image_item(team) -> tuple[str, bytes]:
    """A stored image of a few hundred kB (several of the guard's batches); its page path and bytes."""
    import numpy as np
    from PIL import Image

    from annotation.imports import services as imports

    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(out, "PNG")
    upload = io.BytesIO(out.getvalue())
    upload.name = "noise.png"
    job = imports.import_create(actor=team.admin, project=team.project, name=upload.name, upload=upload)
    imports.import_start(job=job, background=False)
    item = Item.objects.get(project=team.project)
    with default_storage.open(item.image, "rb") as f:
        stored = f.read()
    return f"/p/{team.project.slug}/items/{item.pk}/image", stored


def test_a_file_comes_whole_through_both_servers(image_team, transactional_db, live_server, client):
    """Files are streamed responses too: under daphne pulled in batches, under WSGI left to the server."""
    path_, stored = _image_item(image_team)
    assert len(stored) > 200_000
    client.force_login(image_team.admin)
    session = client.cookies["sessionid"].value
    with daphne_server() as (base, _pid):
        for server in (base, live_server.url):
            url = urlsplit(server)
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=CLIENT_TIMEOUT)
            conn.request("GET", path_, headers={"Cookie": f"sessionid={session}"})
            response = conn.getresponse()
            assert (server, response.status, response.read() == stored) == (server, 200, True)
            conn.close()
