"""Pages: forms show clear errors, keep what was typed, and escape user text."""

import io
import re

from django.test import Client

from annotation.imports import services as imports
from annotation.rulebook import services as rulebook_services
from annotation.rulebook.models import RulebookVersion
from tests.conftest import jsonl, labels, publish


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def label_post(rows, action="save", **top):
    data = {
        "guidelines": top.get("guidelines", ""), "unclear_instructions": "", "do_not_label": "", "change_note": "",
        "labels-TOTAL_FORMS": str(len(rows)), "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
        "labels-MAX_NUM_FORMS": "1000", "action": action,
    }  # fmt: skip
    for i, row in enumerate(rows):
        for k, v in row.items():
            data[f"labels-{i}-{k}"] = v
    return data


def test_rulebook_form_with_duplicate_hotkeys_shows_the_error_and_keeps_the_draft(team):
    rows = [{"key": "cat", "name": "Cat", "definition": "c", "hotkey": "x"}, {"key": "dog", "name": "Dog", "definition": "d", "hotkey": "x"}]
    response = login(team.admin).post(f"/p/{team.project.slug}/rulebook/edit/", label_post(rows, "publish", guidelines="typed text"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hotkey &#x27;x&#x27; is already used by label 1." in html
    assert "Not published: fix the problems marked below. Your draft is saved." in html
    assert RulebookVersion.objects.get(project=team.project, status="draft").guidelines == "typed text"
    assert not RulebookVersion.objects.filter(project=team.project, status="published").exists()


def test_rulebook_form_publishes_and_removes_deleted_rows(team):
    rows = [
        {"key": "cat", "name": "Cat", "definition": "c", "hotkey": "c"},
        {"key": "dog", "name": "Dog", "definition": "d", "hotkey": "d"},
        {"key": "gone", "name": "Gone", "definition": "g", "DELETE": "on"},
        {"key": "", "name": "", "definition": ""},
    ]
    response = login(team.admin).post(f"/p/{team.project.slug}/rulebook/edit/", label_post(rows, "publish"))
    assert response.status_code == 302 and response["Location"].endswith("/rulebook/history/")
    version = RulebookVersion.objects.get(project=team.project, number=1)
    assert [lab["key"] for lab in version.labels] == ["cat", "dog"]


def test_history_compares_versions_and_highlights_the_change(team):
    publish(team, "cat", "dog")
    changed = labels("cat", "dog")
    changed[1]["definition"] = "It is a big dog."
    rulebook_services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=changed)
    rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
    html = login(team.annotator).get(f"/p/{team.project.slug}/rulebook/history/").content.decode()
    assert "What changed from v1 to v2" in html
    assert "It is a <ins>big </ins>dog." in html
    v1 = login(team.annotator).get(f"/p/{team.project.slug}/rulebook/v1/").content.decode()
    assert "It is a dog." in v1 and "big dog" not in v1


def test_user_text_is_escaped_and_markdown_is_sanitized(team):
    evil = labels("cat", "dog")
    evil[0]["name"] = "<img src=x onerror=alert(1)>"
    rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project,
        guidelines="**bold** <script>alert('x')</script> [link](javascript:alert(1))",
        unclear_instructions="<b>not bold</b>", do_not_label="", labels=evil,
    )  # fmt: skip
    rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
    html = login(team.annotator).get(f"/p/{team.project.slug}/rulebook/").content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    imports.import_start(job=imports.import_create(actor=team.admin, project=team.project, name="x.jsonl", upload=io.BytesIO(jsonl([{"id": "<i>1</i>", "text": "<script>alert(2)</script>"}]))))
    items = login(team.reviewer).get(f"/p/{team.project.slug}/items/").content.decode()
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in items and "<script>alert(2)" not in items


def test_import_page_lists_bad_rows(team):
    upload = io.BytesIO(jsonl([{"id": "1", "text": "ok"}, "{bad", {"id": "3"}]))
    upload.name = "rows.jsonl"
    client = login(team.admin)
    response = client.post(f"/p/{team.project.slug}/import/", {"file": upload}, follow=True)
    html = response.content.decode()
    assert "Import of rows.jsonl" in html
    assert "<td>line 2</td>" in html and "<td>line 3</td>" in html
    assert "the row has neither &#x27;text&#x27; nor &#x27;image&#x27;" in html


def test_members_page_adds_a_new_account_and_refuses_removing_the_last_admin(team):
    client = login(team.admin)
    slug = team.project.slug
    response = client.post(f"/p/{slug}/members/", {"action": "add", "username": "zoe", "role": "reviewer", "password": "long-enough-pw"}, follow=True)
    assert "zoe added as reviewer." in response.content.decode()
    response = client.post(f"/p/{slug}/members/", {"action": "remove", "user_id": team.admin.pk, "role": "admin"}, follow=True)
    assert "A project needs at least one admin" in response.content.decode()
    response = client.post(f"/p/{slug}/members/", {"action": "add", "username": "ghost", "role": "reviewer"})
    assert "No user &#x27;ghost&#x27;; give a password to create the account." in response.content.decode()


def test_create_project_page(team):
    client = login(team.annotator)
    response = client.post("/projects/new/", {"name": "Reviews", "slug": "", "description": "", "item_kind": "text", "question_type": "multi",
                                              "min_votes": 3, "max_votes": 5, "promote_posterior": 0.9, "promote_agreement": 0.6, "gold_rate": 0.05, "lease_seconds": 300})  # fmt: skip
    assert response.status_code == 302 and re.fullmatch(r"/p/reviews-[a-z2-9]{6}/rulebook/edit/", response["Location"])
    response = client.post("/projects/new/", {"name": "Again", "slug": "reviews", "item_kind": "text", "question_type": "single",
                                              "min_votes": 3, "max_votes": 2, "promote_posterior": 0.9, "promote_agreement": 0.6, "gold_rate": 0.05, "lease_seconds": 300})  # fmt: skip
    assert response.status_code == 200
    assert "Max votes cannot be below min votes" in response.content.decode()


def test_new_rulebook_rows_get_palette_colours_not_black(team):
    html = login(team.admin).get(f"/p/{team.project.slug}/rulebook/edit/").content.decode()
    assert 'name="labels-0-color" value="#1f77b4"' in html and 'name="labels-1-color" value="#ff7f0e"' in html


def test_a_stale_draft_save_is_refused_and_keeps_what_was_typed(team):
    client = login(team.admin)
    url = f"/p/{team.project.slug}/rulebook/edit/"
    page = client.get(url).content.decode()
    based_on = page.split('name="based_on" value="')[1].split('"')[0]
    rows = [{"key": "cat", "name": "Cat", "definition": "c"}, {"key": "dog", "name": "Dog", "definition": "d"}]
    first = label_post(rows, guidelines="the colleague's text")
    first["based_on"] = based_on
    assert client.post(url, first).status_code in (200, 302)
    mine = label_post(rows, guidelines="my own careful text")
    mine["based_on"] = based_on  # opened before the colleague saved
    response = client.post(url, mine)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved this draft" in html and "my own careful text" in html
    assert RulebookVersion.objects.get(project=team.project, status="draft").guidelines == "the colleague's text"
