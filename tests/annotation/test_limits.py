"""Size caps: guidelines, labels and descriptions over their cap are refused with the field
named, through the API and the forms alike; the metadata check the import readers use."""

from __future__ import annotations

from annotation import limits
from annotation.rulebook.models import RulebookVersion
from tests.annotation.views.test_pages import label_post, login
from tests.conftest import api_client, labels


def draft_put(team, **body):
    return api_client(team.admin).put(f"/api/projects/{team.project.slug}/rulebook/draft/", body, format="json")


def test_too_many_labels_are_refused_and_nothing_is_saved(team):
    many = [{"key": f"k{n}", "name": f"K{n}", "definition": "d"} for n in range(limits.MAX_LABELS + 1)]
    response = draft_put(team, guidelines="new text", labels=many)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "labels", "message": f"At most {limits.MAX_LABELS} labels; this has {limits.MAX_LABELS + 1}."}]
    assert RulebookVersion.objects.get(project=team.project, status="draft").guidelines == ""


def test_long_guidelines_and_a_long_definition_are_named(team):
    rows = labels("cat", "dog")
    rows[1]["definition"] = "x" * (limits.MAX_LABEL_TEXT_CHARS + 1)
    response = draft_put(team, guidelines="g" * (limits.MAX_GUIDELINES_CHARS + 1), labels=rows)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"field": "guidelines", "message": f"At most {limits.MAX_GUIDELINES_CHARS:,} characters; this has {limits.MAX_GUIDELINES_CHARS + 1:,}."} in errors
    assert any(e.get("label") == 1 and e["field"] == "definition" for e in errors)
    # At the cap is fine.
    rows[1]["definition"] = "x" * limits.MAX_LABEL_TEXT_CHARS
    assert draft_put(team, guidelines="g" * limits.MAX_GUIDELINES_CHARS, labels=rows).status_code == 200


def test_the_rulebook_form_shows_the_cap_beside_the_field(team):
    rows = [{"key": "cat", "name": "Cat", "definition": "c" * (limits.MAX_LABEL_TEXT_CHARS + 1)}, {"key": "dog", "name": "Dog", "definition": "d"}]
    response = login(team.admin).post(f"/p/{team.project.slug}/rulebook/edit/", label_post(rows, guidelines="kept"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The draft is too large to save; nothing was saved." in html
    assert f"At most {limits.MAX_LABEL_TEXT_CHARS:,} characters" in html
    assert "kept" in html  # what was typed is still in the form


def test_a_long_project_description_is_refused_by_name(team):
    response = api_client(team.admin).post(
        "/api/projects/", {"name": "Big", "description": "d" * (limits.MAX_DESCRIPTION_CHARS + 1)}, format="json"
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["description"]


def test_metadata_errors_name_each_field_over_its_cap():
    assert limits.metadata_errors({"camera": "Canon", "n": 3, "tags": ["a", "b"]}) == []
    errors = limits.metadata_errors({"ok": "x", "notes": "n" * (limits.MAX_METADATA_VALUE_CHARS + 1), "deep": {"a": "b" * limits.MAX_METADATA_VALUE_CHARS}})
    assert [e["field"] for e in errors] == ["metadata.notes", "metadata.deep"]
    wide = {f"k{n}": n for n in range(limits.MAX_METADATA_KEYS + 1)}
    assert limits.metadata_errors(wide)[0] == {"field": "metadata", "message": f"At most {limits.MAX_METADATA_KEYS} fields; this has {limits.MAX_METADATA_KEYS + 1}."}
