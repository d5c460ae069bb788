"""Every error under /api/ is JSON with a `detail` and a `code` — also those Django answers before
a view runs (a body over the size limit, too many fields or files, an unknown URL) and uncaught
exceptions — under daphne and under WSGI. Pages keep their HTML error pages."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.authtoken.models import Token

from quorum.urls import handler400, handler403, handler404, handler500  # noqa: F401 (this module is a URLconf)
from tests.conftest import daphne_server


def crashes(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError("a bug")


urlpatterns = [path("api/test/crash/", crashes), path("test/crash/", crashes), path("", include("quorum.urls"))]


def request(base: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers.get("Content-Type", ""), response.read()
    finally:
        conn.close()


def _files(n: int) -> bytes:
    parts = "".join(f'--B\r\nContent-Disposition: form-data; name="f{i}"; filename="f{i}.txt"\r\n\r\nx\r\n' for i in range(n))
    return (parts + "--B--\r\n").encode()


def cases(slug: str) -> list[tuple[str, str, str, bytes, dict[str, str], int, str]]:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        ("11 MB JSON body", "PATCH", f"/api/projects/{slug}/", b'{"name": "' + b"x" * (11 * 1024**2) + b'"}',
         {"Content-Type": "application/json"}, 400, "too_large"),
        ("11 MB form body", "POST", f"/api/projects/{slug}/imports/", b"a=" + b"x" * (11 * 1024**2), form, 400, "too_large"),
        ("2,000 form fields", "POST", f"/api/projects/{slug}/imports/", "&".join(f"f{i}=1" for i in range(2000)).encode(),
         form, 400, "too_many_fields"),
        ("150 files", "POST", f"/api/projects/{slug}/imports/", _files(150),
         {"Content-Type": "multipart/form-data; boundary=B"}, 400, "too_many_files"),
        ("empty multipart body", "POST", f"/api/projects/{slug}/votes/import/", b"",
         {"Content-Type": "multipart/form-data; boundary=B"}, 400, "invalid"),
        ("no such endpoint", "GET", "/api/no/such/thing/", b"", {}, 404, "not_found"),
        ("an uncaught exception", "GET", "/api/test/crash/", b"", {}, 500, "server_error"),
    ]  # fmt: skip


def _check(base: str, team) -> None:
    token = Token.objects.create(user=team.admin).key
    for name, method, path_, body, headers, status, code in cases(team.project.slug):
        got = request(base, method, path_, body, {"Authorization": f"Token {token}", **headers})
        assert got[:2] == (status, "application/json"), (name, got)
        answer = json.loads(got[2])
        assert answer["code"] == code and answer["detail"], (name, answer)
    # pages keep Django's error pages
    assert request(base, "GET", "/test/crash/")[:2] == (500, "text/html; charset=utf-8")
    assert request(base, "GET", "/no/such/page/")[:2] == (404, "text/html; charset=utf-8")


@pytest.fixture
def crash_urls(settings):
    settings.ROOT_URLCONF = __name__


def test_api_errors_are_json_under_wsgi(team, live_server, crash_urls):
    _check(live_server.url, team)


def test_api_errors_are_json_under_daphne(team, transactional_db, crash_urls):
    with daphne_server() as (base, _pid):
        _check(base, team)
