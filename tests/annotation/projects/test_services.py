"""Creating projects: an address never tells an outsider that another project exists, and
people creating projects at the same moment all get one (no 500 on a taken address)."""

from __future__ import annotations

import json
import threading
import urllib.request
from urllib.error import HTTPError

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.exceptions import Conflict
from annotation.projects import services as projects_services
from annotation.projects.models import Project
from tests.annotation.views.test_pages import login
from tests.conftest import api_client
from tests.factories import ProjectFactory, UserFactory

FORM = {"description": "", "item_kind": "text", "question_type": "single", "min_votes": 3, "max_votes": 5,
        "promote_posterior": 0.9, "promote_agreement": 0.6, "gold_rate": 0.05, "lease_seconds": 300}  # fmt: skip


def test_a_slug_taken_by_someone_elses_project_looks_like_a_free_one(team):
    """An outsider asks for the address of a project they cannot see, and for a free one: both
    answers are the same kind (201, the asked-for address with a random ending), so nothing says
    which one exists."""
    ProjectFactory(name="Hidden", slug="secret")
    client = api_client(team.outsider)
    taken = client.post("/api/projects/", {"name": "Mine", "slug": "secret"}, format="json")
    free = client.post("/api/projects/", {"name": "Mine too", "slug": "nobody-has-this"}, format="json")
    assert (taken.status_code, free.status_code) == (201, 201), (taken.json(), free.json())
    assert "taken" not in json.dumps(taken.json()) and "used" not in json.dumps(taken.json())
    assert taken.json()["slug"].startswith("secret-") and free.json()["slug"].startswith("nobody-has-this-")
    assert len(taken.json()["slug"]) == len("secret-") + projects_services.SLUG_SUFFIX_LENGTH
    assert Project.objects.get(slug="secret").name == "Hidden"


def test_the_form_neither_says_an_address_is_taken(team):
    ProjectFactory(name="Hidden", slug="secret")
    client = login(team.outsider)
    response = client.post("/projects/new/", {**FORM, "name": "Mine", "slug": "secret"})
    assert response.status_code == 302, response.content.decode()
    slug = response["Location"].split("/")[2]
    assert slug.startswith("secret-") and slug != "secret"
    assert "address" in client.get("/projects/new/").content.decode()  # the help text says why


def test_an_operator_asking_for_a_taken_exact_slug_gets_a_conflict(team):
    projects_services.project_create(actor=None, name="Digits", slug="digits", exact_slug=True)
    with pytest.raises(Conflict, match="digits"):
        projects_services.project_create(actor=None, name="Digits again", slug="digits", exact_slug=True)


def _post_project(base: str, token: str, results: list, barrier: threading.Barrier) -> None:
    request = urllib.request.Request(
        f"{base}/api/projects/", method="POST", data=json.dumps({"name": "Same name"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )  # fmt: skip
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            results.append((response.status, json.loads(response.read())))
    except HTTPError as exc:
        body = exc.read()
        results.append((exc.code, body.decode(errors="replace")[:300]))


@pytest.mark.django_db(transaction=True)
def test_ten_people_creating_the_same_project_at_once_all_get_one(live_server):
    """Ten requests at the same moment with the same name, over HTTP: each gets 201 and its own
    address (on SQLite and on PostgreSQL; before, 6 of 10 were 500 on PostgreSQL)."""
    users = [UserFactory(username=f"maker{n}") for n in range(10)]
    tokens = [Token.objects.create(user=u).key for u in users]
    results: list = []
    barrier = threading.Barrier(len(tokens))
    threads = [threading.Thread(target=_post_project, args=(live_server.url, t, results, barrier)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(status for status, _ in results) == [201] * 10, results
    slugs = {body["slug"] for _, body in results}
    assert len(slugs) == 10 and all(s.startswith("same-name-") for s in slugs)
    assert Project.objects.filter(name="Same name").count() == 10


@pytest.mark.django_db(transaction=True)
def test_exact_slug_at_once_one_wins_the_rest_get_a_conflict_not_an_integrity_error():
    """The operator's path (exact slug) raced from ten threads: one project, nine ``Conflict``s."""
    admin = get_user_model().objects.create_user("racer")
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def create(n: int) -> None:
        barrier.wait()
        try:
            projects_services.project_create(actor=admin, name=f"Race {n}", slug="race", exact_slug=True)
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        except Exception as exc:  # an IntegrityError here is the defect
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * 9 + ["created"], outcomes
    assert Project.objects.filter(slug="race").count() == 1
