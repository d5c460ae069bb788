"""Every page and endpoint × admin / reviewer / annotator / outsider / anonymous.

Outsiders (members of another project only) get 404, as if the project did not exist;
members below the needed role get 403; anonymous users get 401 (API) or the login page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.test import Client

from annotation.imports import services as imports
from annotation.items.models import Item
from annotation.rulebook import services as rulebook_services
from tests.conftest import api_client, image_bytes, labels, publish, zip_bytes
from tests.factories import voter_id

ROLES = ["admin", "reviewer", "annotator", "outsider", "anonymous"]
RANK = {"annotator": 1, "reviewer": 2, "admin": 3}


@dataclass
class World:
    team: object
    item: Item
    job_id: int


@pytest.fixture
def world(image_team) -> World:
    publish(image_team, "cat", "dog")
    changed = labels("cat", "dog")
    changed[0]["definition"] = "A changed cat."
    rulebook_services.rulebook_draft_save(actor=image_team.admin, project=image_team.project, guidelines="", unclear_instructions="", do_not_label="", labels=changed)
    job = imports.import_create(actor=image_team.admin, project=image_team.project, name="a.zip", upload=io.BytesIO(zip_bytes({"a.jpg": image_bytes()})))
    imports.import_start(job=job)
    return World(image_team, Item.objects.get(project=image_team.project), job.pk)


def expected(role: str, needed: str, ok: int, anonymous: int) -> int:
    if role == "anonymous":
        return anonymous
    if role == "outsider":
        return 404
    return ok if RANK[role] >= RANK[needed] else 403


API = [
    # (method, path, body, needed role, success status)
    ("get", "/api/projects/{slug}/", None, "annotator", 200),
    ("patch", "/api/projects/{slug}/", {"max_votes": 6}, "admin", 200),
    ("get", "/api/projects/{slug}/members/", None, "admin", 200),
    ("post", "/api/projects/{slug}/members/", {"username": "fresh", "role": "annotator", "password": "long-enough-pw"}, "admin", 201),
    ("patch", "/api/projects/{slug}/members/{annotator_id}/", {"role": "reviewer"}, "admin", 200),
    ("delete", "/api/projects/{slug}/members/{annotator_id}/", None, "admin", 204),
    ("get", "/api/projects/{slug}/rulebook/", None, "annotator", 200),
    ("get", "/api/projects/{slug}/rulebook/versions/", None, "annotator", 200),
    ("get", "/api/projects/{slug}/rulebook/versions/1/", None, "annotator", 200),
    ("get", "/api/projects/{slug}/rulebook/draft/", None, "admin", 200),
    ("put", "/api/projects/{slug}/rulebook/draft/", {"labels": labels("a", "b")}, "admin", 200),
    ("post", "/api/projects/{slug}/rulebook/publish/", {}, "admin", 201),
    ("get", "/api/projects/{slug}/items/", None, "reviewer", 200),
    ("get", "/api/projects/{slug}/items/{item_id}/", None, "reviewer", 200),
    ("get", "/api/projects/{slug}/imports/", None, "admin", 200),
    ("post", "/api/projects/{slug}/imports/", "upload", "admin", 201),
    ("get", "/api/projects/{slug}/imports/{job_id}/", None, "admin", 200),
    ("get", "/api/projects/{slug}/audit/", None, "admin", 200),
    ("get", "/api/projects/{slug}/curation/", None, "admin", 200),
    ("post", "/api/projects/{slug}/curation/run/", {}, "admin", 200),
    ("post", "/api/projects/{slug}/curation/decisions/", {"items": ["{item_id}"], "decision": "keep"}, "admin", 200),
    # The annotator's loop: open to every member (reviewers and admins may label too).
    ("post", "/api/projects/{slug}/next/", {}, "annotator", 200),
    ("post", "/api/projects/{slug}/votes/", {"item": "{item_id}", "client_id": "client-0001", "value": "cat"}, "annotator", 409),
    ("post", "/api/projects/{slug}/votes/undo/", {"client_id": "client-0002"}, "annotator", 409),
    ("post", "/api/projects/{slug}/leases/heartbeat/", {"items": ["{item_id}"]}, "annotator", 200),
    ("post", "/api/projects/{slug}/leases/release/", {"item": "{item_id}"}, "annotator", 409),
    ("get", "/api/projects/{slug}/progress/me/", None, "annotator", 200),
    # The consensus engine.
    ("post", "/api/projects/{slug}/votes/import/", "votes_upload", "admin", 200),
    ("post", "/api/projects/{slug}/consensus/", {}, "admin", 200),
    ("get", "/api/projects/{slug}/export/", None, "reviewer", 200),
]


def fill(path: str, world: World) -> str:
    t = world.team
    return path.format(slug=t.project.slug, annotator_id=t.annotator.pk, item_id=world.item.pk, job_id=world.job_id)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body,needed,ok", API, ids=[f"{m} {p}" for m, p, *_ in API])
def test_api_permission_matrix(world, role, method, path, body, needed, ok):
    client = api_client(world.team.user(role))
    kwargs = {"format": "json"}
    if isinstance(body, dict):
        body = {
            k: fill(v, world) if isinstance(v, str) else [fill(x, world) if isinstance(x, str) else x for x in v] if isinstance(v, list) else v
            for k, v in body.items()
        }
    if body == "votes_upload":
        body, kwargs = {"votes": io.BytesIO(b"item,annotator,label\nnope,w1,cat\n")}, {"format": "multipart"}
        body["votes"].name = "votes.csv"
    if body == "upload":
        body, kwargs = {"file": io.BytesIO(image_bytes("PNG")) }, {"format": "multipart"}
        body["file"].name = "one.png"
    response = getattr(client, method)(fill(path, world), body, **kwargs)
    assert response.status_code == expected(role, needed, ok, 401), response.content[:300]
    if response.status_code == 404:
        assert response.json() == {"detail": "Project not found.", "code": "not_found"}  # no hint that it exists


@pytest.mark.parametrize("role", ROLES)
def test_project_list_shows_only_my_projects(world, role):
    response = api_client(world.team.user(role)).get("/api/projects/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    slugs = {p["slug"] for p in response.json()}
    assert (world.team.project.slug in slugs) == (role != "outsider")
    assert (world.team.other_project.slug in slugs) == (role == "outsider")


def test_anyone_logged_in_can_create_a_project_and_becomes_its_admin(world):
    response = api_client(world.team.outsider).post("/api/projects/", {"name": "Mine", "item_kind": "text"}, format="json")
    assert response.status_code == 201
    assert api_client(world.team.outsider).get(f"/api/projects/{response.json()['slug']}/members/").json()[0]["role"] == "admin"
    assert api_client(None).post("/api/projects/", {"name": "Nope"}, format="json").status_code == 401


PAGES = [
    ("/p/{slug}/", "annotator"),
    ("/p/{slug}/label/", "annotator"),
    ("/p/{slug}/rulebook/", "annotator"),
    ("/p/{slug}/rulebook/v1/", "annotator"),
    ("/p/{slug}/rulebook/history/", "annotator"),
    ("/p/{slug}/items/{item_id}/image", "annotator"),
    ("/p/{slug}/items/{item_id}/thumbnail", "annotator"),
    ("/p/{slug}/items/", "reviewer"),
    ("/p/{slug}/items/{item_id}/", "reviewer"),
    ("/p/{slug}/agreement/", "reviewer"),
    ("/p/{slug}/dashboard/", "reviewer"),
    ("/p/{slug}/dashboard/data/", "reviewer"),
    ("/p/{slug}/review/", "reviewer"),
    ("/p/{slug}/review/{item_id}/", "reviewer"),
    ("/p/{slug}/annotators/", "reviewer"),
    ("/p/{slug}/me/", "annotator"),
    ("/p/{slug}/settings/", "admin"),
    ("/p/{slug}/members/", "admin"),
    ("/p/{slug}/rulebook/edit/", "admin"),
    ("/p/{slug}/import/", "admin"),
    ("/p/{slug}/imports/{job_id}/", "admin"),
    ("/p/{slug}/import/votes/", "admin"),
    ("/p/{slug}/audit/", "admin"),
    ("/p/{slug}/curation/", "admin"),
    ("/p/{slug}/curation/?show=blurry", "admin"),
]


def page_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path,needed", PAGES, ids=[p for p, _ in PAGES])
def test_page_permission_matrix(world, role, path, needed):
    if role == "annotator" and path.endswith(("/image", "/thumbnail")):
        # An annotator sees the files of the items they hold (tests/annotation/test_item_files.py).
        from annotation.labeling import services as labeling

        assert labeling.item_lease_next(project=world.team.project, annotator=world.team.annotator).item_id == world.item.pk
    response = page_client(world.team.user(role)).get(fill(path, world))
    assert response.status_code == expected(role, needed, 200, 302)
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/", "/projects/new/"])
def test_pages_outside_projects_need_a_login(world, role, path):
    response = page_client(world.team.user(role)).get(path)
    assert response.status_code == (302 if role == "anonymous" else 200)


@pytest.mark.parametrize("role", ["reviewer", "annotator", "outsider"])
def test_posting_to_admin_pages_changes_nothing(world, role):
    client = page_client(world.team.user(role))
    slug = world.team.project.slug
    client.post(f"/p/{slug}/members/", {"action": "add", "username": "intruder", "role": "admin", "password": "long-enough-pw"})
    client.post(f"/p/{slug}/settings/", {"name": "Hijacked", "min_votes": 1, "max_votes": 1, "promote_posterior": 0, "promote_agreement": 0, "gold_rate": 0, "lease_seconds": 10})
    world.team.project.refresh_from_db()
    assert world.team.project.name != "Hijacked"
    assert not world.team.project.memberships.filter(user__username="intruder").exists()


@pytest.mark.parametrize("role", ["reviewer", "annotator", "outsider"])
def test_only_admins_suspend_and_only_reviewers_decide(world, role):
    from consensus.decisions.models import GroundTruth
    from consensus.review.models import ReviewCase

    client = page_client(world.team.user(role))
    slug, project = world.team.project.slug, world.team.project
    target = world.team.annotator
    response = client.post(f"/p/{slug}/annotators/{voter_id(project, target)}/suspend/", {"reason": "take over"})
    assert response.status_code == (404 if role == "outsider" else 403)
    assert not project.voters.filter(user=target, suspended_at__isnull=False).exists()
    # Review actions: annotators and outsiders cannot claim or decide anything.
    if role != "reviewer":
        assert client.post(f"/p/{slug}/review/claim/", {}).status_code == (404 if role == "outsider" else 403)
        assert client.post(f"/p/{slug}/review/{world.item.pk}/decide/", {"label": "cat", "reason": "x"}).status_code == (
            404 if role == "outsider" else 403
        )
        assert not GroundTruth.objects.filter(item=world.item).exists() and not ReviewCase.objects.filter(claimed_by__isnull=False).exists()


def test_annotators_do_not_see_other_annotators_votes_anywhere(world):
    """The only vote an annotator's pages and API ever show them is their own."""
    from annotation.labeling import services as labeling
    from annotation.labeling.models import Vote

    other = world.team.reviewer  # votes like an annotator would
    Vote.objects.create(project=world.team.project, item=world.item, voter_id=voter_id(world.team.project, other), rulebook_version=world.team.project.current_rulebook,
                        value="secret-label-xyz", client_id="other-1", created_at=world.item.created_at)  # fmt: skip
    client = page_client(world.team.annotator)
    slug = world.team.project.slug
    for path in (f"/p/{slug}/", f"/p/{slug}/label/", f"/p/{slug}/me/", f"/p/{slug}/rulebook/"):
        assert b"secret-label-xyz" not in client.get(path).content, path
    api = api_client(world.team.annotator)
    lease = labeling.item_lease_next(project=world.team.project, annotator=world.team.annotator)
    body = api.post(f"/api/projects/{slug}/next/", {"exclude": []}, format="json").content
    assert lease is None or b"secret-label-xyz" not in body


def test_api_token_authentication(world):
    response = Client().post("/api/auth/token/", {"username": world.team.annotator.username, "password": "correct-horse-battery"})
    token = response.json()["token"]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"/api/projects/{world.team.project.slug}/").status_code == 200
    assert client.get(f"/api/projects/{world.team.project.slug}/items/").status_code == 403
    assert Client(HTTP_AUTHORIZATION="Token wrong").get("/api/projects/").status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_revoking_a_token_needs_a_login_and_touches_only_my_token(world, role):
    from rest_framework.authtoken.models import Token

    others = {u.pk: Token.objects.create(user=u).key for u in (world.team.admin, world.team.annotator) if u != world.team.user(role)}
    response = api_client(world.team.user(role)).delete("/api/auth/token/")
    assert response.status_code == (401 if role == "anonymous" else 204)
    assert set(Token.objects.filter(user_id__in=others).values_list("key", flat=True)) == set(others.values())
