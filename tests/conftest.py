"""Shared fixtures: a project with one member of each role, an outsider, API clients, files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from PIL import Image
from rest_framework.test import APIClient

from annotation.projects import services as projects_services
from annotation.projects.models import Project, Role
from annotation.rulebook import services as rulebook_services
from tests.factories import UserFactory


def pytest_collection_modifyitems(items):
    """Browser tests last: Playwright's sync API leaves an event loop on the main thread."""
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: "/tests/e2e/" in str(item.fspath))


@pytest.fixture(scope="session", autouse=True)
def close_connection_pools(django_db_setup, django_db_blocker):
    """Close PostgreSQL connection pools before the test database is dropped (live-server
    threads leave pooled connections open, and PostgreSQL refuses to drop a database in use)."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for conn in connections.all(initialized_only=True):
            if hasattr(conn, "close_pool"):
                conn.close_pool()


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def immediate_tasks(settings, request):
    """The suite runs tasks in-process; tests marked ``redis`` run them on real RQ workers."""
    if "redis" not in request.keywords:
        settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@dataclass
class Team:
    project: Project
    admin: AbstractBaseUser
    reviewer: AbstractBaseUser
    annotator: AbstractBaseUser
    outsider: AbstractBaseUser
    other_project: Project

    def user(self, role: str) -> AbstractBaseUser | None:
        return {
            "admin": self.admin,
            "reviewer": self.reviewer,
            "annotator": self.annotator,
            "outsider": self.outsider,
            "anonymous": None,
        }[role]


def make_team(item_kind: str = "text", question_type: str = "single") -> Team:
    admin = UserFactory(username=f"admin-{item_kind}")
    project = projects_services.project_create(
        actor=admin, name=f"Team {item_kind}", item_kind=item_kind, question_type=question_type
    )
    reviewer = UserFactory(username=f"reviewer-{item_kind}")
    annotator = UserFactory(username=f"annotator-{item_kind}")
    projects_services.member_add(actor=admin, project=project, username=reviewer.username, role=Role.REVIEWER)
    projects_services.member_add(actor=admin, project=project, username=annotator.username, role=Role.ANNOTATOR)
    outsider = UserFactory(username=f"outsider-{item_kind}")
    other = projects_services.project_create(actor=outsider, name=f"Elsewhere {item_kind}", item_kind=item_kind)
    return Team(project, admin, reviewer, annotator, outsider, other)


@pytest.fixture
def team(db) -> Team:
    return make_team("text")


@pytest.fixture
def image_team(db) -> Team:
    return make_team("image")


def api_client(user: AbstractBaseUser | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def labels(*keys: str, **overrides: Any) -> list[dict[str, Any]]:
    return [
        {"key": k, "name": k.title(), "definition": f"It is a {k}.", "hotkey": str(i + 1), **overrides}
        for i, k in enumerate(keys)
    ]


def publish(team: Team, *keys: str) -> Any:
    rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project, guidelines="", unclear_instructions="",
        do_not_label="", labels=labels(*keys),
    )  # fmt: skip
    return rulebook_services.rulebook_publish(actor=team.admin, project=team.project)


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def jsonl(rows: list[Any]) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode() + b"\n"


# --- daphne serving the whole ASGI app in a child process ----------------------------------------

_INHERITED: list[object] = []  # in the forked server: what it must neither use nor close


def _fresh_child() -> None:
    """In the forked server: what the test process had running does not survive a fork. asgiref's
    one thread for thread-sensitive work and the cached channel layer (its queues belong to the
    parent's loops) would look alive and hang every database call and group join; start them anew.
    The parent's database connections and PostgreSQL pool share their sockets with it: never use
    them here, nor close them (that would end the parent's sessions); keep them referenced and
    start empty. New ones reach the test database: the settings pointed there before the fork."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.local import Local
    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.backends.clear()
    _INHERITED.extend([connections._connections, dict(DatabaseWrapper._connection_pools)])
    connections._connections = Local(connections.thread_critical)
    DatabaseWrapper._connection_pools.clear()


@contextmanager
def daphne_server(setup: Callable[[], None] | None = None) -> Iterator[tuple[str, int]]:
    """Daphne serving the whole ASGI app — pages, the API and WebSockets — in a forked child
    process on the test database, as Channels' own live-server test case does: (its URL, its pid).
    ``setup`` runs in the child before it serves. Its channel layer is its own (in memory unless
    REDIS_URL is set), so events are caused through it, not by test code. Data must be committed
    (``transactional_db``) for it to see them."""
    from functools import partial

    from channels.testing.live import make_application
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    def child_setup() -> None:
        _fresh_child()
        if setup is not None:
            setup()

    server = DaphneProcess(
        "localhost", partial(make_application, static_wrapper=ASGIStaticFilesHandler), setup=child_setup
    )
    server.start()
    while not server.ready.wait(timeout=1):
        if not server.is_alive():
            pytest.fail("the ASGI test server stopped before it was ready")
    try:
        yield f"http://localhost:{server.port.value}", server.pid
    finally:
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():  # SIGTERM was not acted on (seen once on PostgreSQL): do not hang the run
            server.kill()
            server.join()


@pytest.fixture
def asgi_server(transactional_db):
    with daphne_server() as (url, _pid):
        yield url
