"""The annotator's API: one request per vote, blind to everyone else's answers."""

import pytest

from annotation.items.models import Item
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.conftest import api_client, labels, publish
from tests.factories import UserFactory, voter_id


@pytest.fixture
def ready(team):
    publish(team, "cat", "dog")
    team.project.min_votes, team.project.gold_rate = 2, 0
    team.project.save()
    for i in range(4):
        Item.objects.create(project=team.project, kind="text", text=f"t{i}", content_hash=f"h{i}", external_id=f"e{i}", gold="cat" if i == 3 else None)
    return team


def test_vote_returns_the_next_item_in_the_same_request(ready):
    client = api_client(ready.annotator)
    url = f"/api/projects/{ready.project.slug}"
    first = client.post(f"{url}/next/", {}, format="json").json()["assignment"]
    second = client.post(f"{url}/next/", {"exclude": [first["item"]["id"]]}, format="json").json()["assignment"]
    body = {"item": first["item"]["id"], "client_id": "vote-000001", "value": "cat", "next": {"exclude": [second["item"]["id"]]}}
    response = client.post(f"{url}/votes/", body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["vote"]["value"] == "cat" and data["vote"]["client_id"] == "vote-000001"
    assert data["next"]["item"]["id"] not in (first["item"]["id"], second["item"]["id"])
    retry = client.post(f"{url}/votes/", body, format="json")
    assert retry.status_code == 200 and retry.json()["vote"]["id"] == data["vote"]["id"]


def test_annotators_are_blind_to_votes_consensus_and_gold(ready):
    other = UserFactory(username="other")
    projects_services.member_add(actor=ready.admin, project=ready.project, username="other", role=Role.ANNOTATOR)
    url = f"/api/projects/{ready.project.slug}"
    seen = []
    for user in (ready.annotator, other):
        client = api_client(user)
        assignment = client.post(f"{url}/next/", {}, format="json").json()["assignment"]
        seen.append(assignment)
        client.post(f"{url}/votes/", {"item": assignment["item"]["id"], "client_id": f"v-{user.pk}-000001", "value": "dog"}, format="json")
    assert seen[0]["item"]["id"] == seen[1]["item"]["id"]  # the same item, answered blind
    text = str(seen[1]).lower()
    for word in ("vote", "gold", "consensus", "state", "metadata", "dog", "external", "e0", "e1", "e2"):
        assert word not in text
    # Their own progress only; no API lists other annotators' votes to them.
    assert api_client(other).get(f"{url}/progress/me/").json()["total"] == 1
    assert api_client(other).get(f"{url}/items/").status_code == 403
    assert api_client(other).get(f"{url}/audit/").status_code == 403


def test_refusals_carry_a_code_the_page_acts_on(ready):
    client = api_client(ready.annotator)
    url = f"/api/projects/{ready.project.slug}"
    assignment = client.post(f"{url}/next/", {}, format="json").json()["assignment"]
    rulebook_services.rulebook_draft_save(actor=ready.admin, project=ready.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("cat", "dog", "cow"))
    rulebook_services.rulebook_publish(actor=ready.admin, project=ready.project)
    response = client.post(f"{url}/votes/", {"item": assignment["item"]["id"], "client_id": "vote-000009", "value": "cat"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "rulebook_changed"
    response = client.post(f"{url}/votes/", {"item": 999999, "client_id": "vote-000010", "value": "cat"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "not_assigned")
    response = client.post(f"{url}/votes/", {"item": assignment["item"]["id"], "client_id": "short", "value": "cat"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "client_id"


@pytest.mark.parametrize(
    "path,body",
    [
        ("/votes/", {"item": 2**63, "client_id": "vote-000011", "value": "cat"}),
        ("/leases/release/", {"item": 2**63}),
        ("/leases/heartbeat/", {"items": [2**63]}),
        ("/next/", {"exclude": [2**63]}),
        ("/votes/", {"item": "seven", "client_id": "vote-000012"}),
        ("/next/", {"exclude": list(range(1, 50))}),
    ],
)
def test_out_of_range_input_is_a_clear_400(ready, path, body):
    response = api_client(ready.annotator).post(f"/api/projects/{ready.project.slug}{path}", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]


# Each request a suspended annotator could still send: retries of a vote and of an undo made
# before the suspension, a new undo, and votes with and without `next` on the item they had
# voted on and on the item they held (released by the suspension).
SUSPENDED_REQUESTS = {
    "vote retried": ("/votes/", {"item": "voted", "client_id": "vote-before-2", "value": "dog"}),
    "vote retried with next": ("/votes/", {"item": "voted", "client_id": "vote-before-2", "value": "dog", "next": {"exclude": []}}),
    "undo retried": ("/votes/undo/", {"client_id": "undo-before-1"}),
    "undo": ("/votes/undo/", {"client_id": "undo-after-01"}),
    "undo of the voted item": ("/votes/undo/", {"client_id": "undo-after-02", "item": "voted"}),
    "vote on the voted item": ("/votes/", {"item": "voted", "client_id": "vote-after-01", "value": "cat"}),
    "vote with next on the voted item": ("/votes/", {"item": "voted", "client_id": "vote-after-02", "value": "cat", "next": {"exclude": []}}),
    "vote on the held item": ("/votes/", {"item": "held", "client_id": "vote-after-03", "value": "cat"}),
    "vote with next on the held item": ("/votes/", {"item": "held", "client_id": "vote-after-04", "value": "cat", "next": {"exclude": []}}),
    "next": ("/next/", {}),
}


@pytest.mark.parametrize("path,body", SUSPENDED_REQUESTS.values(), ids=SUSPENDED_REQUESTS.keys())
def test_a_suspended_annotator_can_neither_vote_nor_undo_by_any_path(ready, path, body):
    from annotation.labeling.models import Vote
    from consensus.annotators.services import annotator_suspend

    client = api_client(ready.annotator)
    url = f"/api/projects/{ready.project.slug}"
    voted = client.post(f"{url}/next/", {}, format="json").json()["assignment"]["item"]["id"]
    first = {"item": voted, "client_id": "vote-before-1", "value": "cat"}
    assert client.post(f"{url}/votes/", first, format="json").status_code == 201
    assert client.post(f"{url}/votes/undo/", {"client_id": "undo-before-1"}, format="json").status_code == 201
    again = {"item": voted, "client_id": "vote-before-2", "value": "dog", "next": {"exclude": []}}
    response = client.post(f"{url}/votes/", again, format="json")
    assert response.status_code == 201
    held = response.json()["next"]["item"]["id"]
    annotator_suspend(project=ready.project, actor=ready.admin, voter_id=voter_id(ready.project, ready.annotator), reason="random answers")
    stored = list(Vote.objects.order_by("pk").values_list("pk", "kind", "superseded_by"))
    counts = list(Item.objects.order_by("pk").values_list("votes_count", "leased_count"))

    named = {"voted": voted, "held": held}
    body = {k: named.get(v, v) if k == "item" else v for k, v in body.items()}
    response = client.post(f"{url}{path}", body, format="json")
    assert response.status_code == 409, response.json()
    assert response.json() == {"detail": "An admin has paused your labeling in this project.", "code": "suspended"}
    assert list(Vote.objects.order_by("pk").values_list("pk", "kind", "superseded_by")) == stored
    assert list(Item.objects.order_by("pk").values_list("votes_count", "leased_count")) == counts


def test_undoing_a_gold_answer_after_its_feedback_is_refused_with_a_code(ready):
    ready.project.gold_rate, ready.project.gold_feedback = 1.0, True
    ready.project.save()
    client = api_client(ready.annotator)
    url = f"/api/projects/{ready.project.slug}"
    gold = client.post(f"{url}/next/", {}, format="json").json()["assignment"]["item"]["id"]
    response = client.post(f"{url}/votes/", {"item": gold, "client_id": "vote-gold-01", "value": "dog"}, format="json")
    assert response.status_code == 201 and response.json()["feedback"]["correct"] is False
    response = client.post(f"{url}/votes/undo/", {"client_id": "undo-gold-01"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "answer_final"
    answer = {"item": gold, "client_id": "vote-gold-02", "value": "cat"}
    assert client.post(f"{url}/votes/", answer, format="json").json()["code"] == "already_voted"
