"""The API does what its OpenAPI schema says: what the schema forbids is refused with a 400 naming
the field (not read as a default), and what it returns is what the schema documents."""

from __future__ import annotations

import pytest

from tests.annotation.labeling.test_services import add_items
from tests.conftest import api_client, publish


def _refused(response, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert field in {e["field"] for e in response.json()["errors"]}, response.json()


@pytest.mark.parametrize(
    "query, field",
    [("offset=null", "offset"), ("offset=-1", "offset"), ("offset=1&offset=2", "offset"), ("limit=0", "limit"),
     ("limit=1.5", "limit"), ("limit=", "limit"), ("state=", "state"), ("state=nonsense", "state"), ("q=", "q"),
     ("meta_key=", "meta_key")],
)  # fmt: skip
def test_item_list_refuses_bad_query_values(team, query, field):
    _refused(api_client(team.admin).get(f"/api/projects/{team.project.slug}/items/?{query}"), field)


def test_item_list_pages_with_good_values(team):
    add_items(team.project, 5)
    body = api_client(team.admin).get(f"/api/projects/{team.project.slug}/items/?limit=2&offset=4&state=queued").json()
    assert (body["count"], len(body["results"])) == (5, 1)
    far = api_client(team.admin).get(f"/api/projects/{team.project.slug}/items/?offset=" + "9" * 40).json()
    assert (far["count"], far["results"]) == (5, [])


@pytest.mark.parametrize("value", ["null", "", "maybe"])
def test_export_refuses_a_non_boolean_all_items(team, value):
    _refused(api_client(team.reviewer).get(f"/api/projects/{team.project.slug}/export/?all_items={value}"), "all_items")


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None])
def test_booleans_in_json_are_true_or_false(team, value):
    response = api_client(team.admin).patch(f"/api/projects/{team.project.slug}/", {"gold_feedback": value}, format="json")
    _refused(response, "gold_feedback")
    assert api_client(team.admin).patch(f"/api/projects/{team.project.slug}/", {"gold_feedback": True}, format="json").json()["gold_feedback"] is True


def _upload(team, **fields):
    import io

    rows = io.BytesIO(b'{"id": "a", "text": "one row"}\n')
    rows.name = "rows.jsonl"
    return api_client(team.admin).post(f"/api/projects/{team.project.slug}/imports/", {"file": rows, **fields}, format="multipart")


def test_booleans_in_a_form_are_the_words_true_or_false(team):
    assert _upload(team, background="true").status_code == 202
    _refused(_upload(team, background="y"), "background")


def test_an_empty_form_value_is_refused_not_read_as_the_default(team):
    import io

    publish(team, "cat", "dog")
    votes = io.BytesIO(b"item,annotator,label\na,w1,cat\n")
    votes.name = "votes.csv"
    response = api_client(team.admin).post(
        f"/api/projects/{team.project.slug}/votes/import/", {"votes": votes, "create_items": ""}, format="multipart"
    )
    _refused(response, "create_items")


@pytest.mark.parametrize("fmt", ["multipart", "application/x-www-form-urlencoded"])
def test_a_json_endpoint_refuses_a_form_body_instead_of_reading_it_as_empty(team, fmt):
    """A malformed multipart PATCH parsed as an empty one and answered 200 having changed nothing."""
    url = f"/api/projects/{team.project.slug}/"
    if fmt == "multipart":
        response = api_client(team.admin).patch(url, {"review_unsure": "true"}, format="multipart")
    else:
        response = api_client(team.admin).patch(url, "review_unsure=true", content_type=fmt)
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_an_item_id_beyond_any_row_is_refused_not_a_server_error(team):
    response = api_client(team.admin).post(
        f"/api/projects/{team.project.slug}/curation/decisions/", {"items": [10**24], "decision": "keep"}, format="json"
    )
    _refused(response, "items.0")


@pytest.mark.parametrize("path", ["members/{big}/", "items/{big}/", "imports/{big}/", "rulebook/versions/{big}/"])
def test_an_id_in_the_path_beyond_any_row_is_a_404(team, path):
    big = "9" * 25
    response = api_client(team.admin).patch(f"/api/projects/{team.project.slug}/{path.format(big=big)}", {"role": "annotator"}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json", response.content[:200]


def test_the_schema_documents_what_the_api_returns(client):
    schema = client.get("/api/schema/?format=json").json()
    published_by = schema["components"]["schemas"]["Rulebook"]["properties"]["published_by"]
    assert published_by.get("nullable") is True  # a draft has no publisher
    export = schema["paths"]["/api/projects/{slug}/export/"]["get"]
    assert list(export["responses"]["200"]["content"]) == ["application/x-ndjson"]
    assert {"all_items"} <= {p["name"] for p in export["parameters"]}
    items = schema["paths"]["/api/projects/{slug}/items/"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("minimum") for p in items if p["name"] in ("limit", "offset")} == {"limit": 1, "offset": 0}
    token = schema["paths"]["/api/auth/token/"]["post"]["responses"]
    assert {"200", "400"} <= set(token)
