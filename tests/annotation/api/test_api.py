"""API behaviour a program relies on: clear errors, and nothing lost."""

import io

from annotation.items.models import Item
from annotation.projects.models import Project
from tests.conftest import api_client, jsonl, labels


def test_create_project_with_bad_settings_names_each_field(team):
    response = api_client(team.admin).post(
        "/api/projects/", {"name": "X", "min_votes": 0, "gold_rate": 2, "item_kind": "video"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "The request is not valid."
    assert {e["field"] for e in body["errors"]} == {"min_votes", "gold_rate", "item_kind"}
    assert not Project.objects.filter(name="X").exists()


def test_max_below_min_votes_is_a_domain_error(team):
    response = api_client(team.admin).patch(f"/api/projects/{team.project.slug}/", {"min_votes": 4, "max_votes": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "max_votes", "message": "Max votes cannot be below min votes."}]


def test_rulebook_draft_put_lists_problems_and_publish_refuses(team):
    client = api_client(team.admin)
    bad = labels("cat", "dog")
    bad[1]["hotkey"] = "1"
    response = client.put(f"/api/projects/{team.project.slug}/rulebook/draft/", {"guidelines": "Be careful", "labels": bad}, format="json")
    assert response.status_code == 200
    assert response.json()["problems"] == [{"label": 1, "field": "hotkey", "message": "Hotkey '1' is already used by label 1."}]
    response = client.post(f"/api/projects/{team.project.slug}/rulebook/publish/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "hotkey"
    assert client.get(f"/api/projects/{team.project.slug}/rulebook/draft/").json()["draft"]["guidelines"] == "Be careful"
    assert client.get(f"/api/projects/{team.project.slug}/rulebook/").status_code == 404


def test_publish_then_read_versions(team):
    client = api_client(team.admin)
    slug = team.project.slug
    client.put(f"/api/projects/{slug}/rulebook/draft/", {"labels": labels("cat", "dog")}, format="json")
    assert client.post(f"/api/projects/{slug}/rulebook/publish/", {"change_note": "first"}, format="json").status_code == 201
    assert client.post(f"/api/projects/{slug}/rulebook/publish/", {}, format="json").status_code == 409
    reader = api_client(team.annotator)
    current = reader.get(f"/api/projects/{slug}/rulebook/").json()
    assert (current["number"], current["change_note"], [lab["key"] for lab in current["labels"]]) == (1, "first", ["cat", "dog"])


def test_upload_import_reports_rows_and_keeps_good_ones(team):
    data = jsonl([{"id": "1", "text": "ok"}, "nope", {"id": "3", "text": "fine"}])
    upload = io.BytesIO(data)
    upload.name = "batch.jsonl"
    response = api_client(team.admin).post(f"/api/projects/{team.project.slug}/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["created"], body["failed"]) == ("done", 2, 1)
    assert body["errors"][0]["row"] == "line 2"
    assert Item.objects.filter(project=team.project).count() == 2


def test_upload_of_unknown_format_is_400(team):
    upload = io.BytesIO(b"PK")
    upload.name = "sheet.xlsx"
    response = api_client(team.admin).post(f"/api/projects/{team.project.slug}/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == "sheet.xlsx"


def test_item_filters(team):
    upload = io.BytesIO(jsonl([{"id": "a", "text": "red apple", "metadata": {"lang": "en"}, "gold": "x"}, {"id": "b", "text": "green pear", "metadata": {"lang": "fr"}}]))
    upload.name = "f.jsonl"
    api_client(team.admin).post(f"/api/projects/{team.project.slug}/imports/", {"file": upload}, format="multipart")
    client = api_client(team.reviewer)
    url = f"/api/projects/{team.project.slug}/items/"
    ids = lambda **q: [i["external_id"] for i in client.get(url, q).json()["results"]]  # noqa: E731
    assert ids(q="apple") == ["a"]
    assert ids(meta_key="lang", meta_value="fr") == ["b"]
    assert ids(gold="yes") == ["a"] and ids(gold="no") == ["b"]
    assert ids(state="queued") == ["a", "b"] and ids(state="ground_truth") == []
    assert client.get(url, {"state": "bogus"}).status_code == 400


def test_openapi_schema_documents_the_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ["/api/projects/", "/api/projects/{slug}/imports/", "/api/projects/{slug}/rulebook/publish/"]:
        assert path in schema["paths"]
    assert "the good rows are kept" in schema["paths"]["/api/projects/{slug}/imports/"]["post"]["description"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()


def test_metadata_key_is_a_key_never_a_lookup(team):
    upload = io.BytesIO(jsonl([{"id": "a", "text": "x", "metadata": {"a__contains": "v", "n": 5}}, {"id": "b", "text": "y", "metadata": {"a": "zz"}}]))
    upload.name = "m.jsonl"
    api_client(team.admin).post(f"/api/projects/{team.project.slug}/imports/", {"file": upload}, format="multipart")
    client = api_client(team.reviewer)
    url = f"/api/projects/{team.project.slug}/items/"
    ids = lambda **q: [i["external_id"] for i in client.get(url, q).json()["results"]]  # noqa: E731
    assert ids(meta_key="a__contains", meta_value="v") == ["a"]
    assert ids(meta_key="a__isnull") == []
    assert ids(meta_key="source__regex", meta_value="(") == []
    assert ids(meta_key="n", meta_value="5") == ["a"]  # numbers compare as text


def test_page_size_is_capped(team):
    response = api_client(team.reviewer).get(f"/api/projects/{team.project.slug}/items/", {"limit": "99999999999999999999"})
    assert response.status_code == 200


def test_nested_errors_name_their_path(team):
    bad = labels("cat", "dog")
    bad[1]["name"] = "x" * 300
    response = api_client(team.admin).put(f"/api/projects/{team.project.slug}/rulebook/draft/", {"labels": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "labels.1.name", "message": "Ensure this field has no more than 200 characters."}]
    response = api_client(team.admin).generic("PUT", f"/api/projects/{team.project.slug}/rulebook/draft/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "body"


def test_fields_that_cannot_be_set_are_refused(team):
    response = api_client(team.admin).patch(f"/api/projects/{team.project.slug}/", {"item_kind": "image", "max_votes": 6}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "item_kind", "message": "This field cannot be set here."}]
    team.project.refresh_from_db()
    assert (team.project.item_kind, team.project.max_votes) == ("text", 5)


def test_new_account_usernames_are_validated(team):
    response = api_client(team.admin).post(f"/api/projects/{team.project.slug}/members/", {"username": "<b>x</b>", "role": "annotator", "password": "long-enough-pw"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "username"
