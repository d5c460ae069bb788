"""The consensus API on projects at every stage: before a rulebook, with items and no votes."""

from __future__ import annotations

import json

from annotation.items.models import Item
from tests.annotation.labeling.test_services import add_items
from tests.conftest import api_client


def _export(client, slug: str, query: str = "") -> list[dict]:
    response = client.get(f"/api/projects/{slug}/export/{query}")
    assert response.status_code == 200, response
    assert response["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_export_of_all_items_before_any_rulebook_lists_them_undecided(team):
    """A project with items and no published rulebook has no labels: the export lists every item
    with no label (it used to fail inside the stream with an IndexError)."""
    items = add_items(team.project, 3)
    rows = _export(api_client(team.reviewer), team.project.slug, "?all_items=1")
    assert [(r["item"], r["label"], r["posterior"], r["votes"], r["distribution"]) for r in rows] == [
        (item.external_id, "", None, 0, {}) for item in items
    ]
    assert _export(api_client(team.reviewer), team.project.slug) == []


def test_consensus_run_before_any_rulebook_decides_nothing(team):
    add_items(team.project, 2)
    response = api_client(team.admin).post(f"/api/projects/{team.project.slug}/consensus/", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["items"], body["votes"], body["promoted"], body["review"]) == (2, 0, 0, 0)
    assert set(Item.objects.filter(project=team.project).values_list("state", flat=True)) == {"queued"}
