"""An admin sets up a project in the browser: rulebook v1 and v2, then imports with bad rows."""

from __future__ import annotations

import base64
import json
import re

import pytest

from annotation.items.models import Item
from annotation.projects.models import Project
from annotation.rulebook.models import RulebookVersion
from tests.conftest import image_bytes, zip_bytes
from tests.e2e.conftest import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

LABELS = [
    ("cat", "Cat", "A domestic cat, awake or asleep.", "c"),
    ("dog", "Dog", "A dog of any breed.", "d"),
    ("bird", "Bird", "Any bird, flying or perched.", "b"),
]


def fill_label(page, index: int, key: str, name: str, definition: str, hotkey: str) -> None:
    page.locator(f"#id_labels-{index}-key").fill(key)
    page.locator(f"#id_labels-{index}-name").fill(name)
    page.locator(f"#id_labels-{index}-definition").fill(definition)
    page.locator(f"#id_labels-{index}-hotkey").fill(hotkey)


def data_uri(color) -> str:
    return "data:image/png;base64," + base64.b64encode(image_bytes("PNG", (32, 32), color)).decode()


def test_admin_creates_project_publishes_two_versions_and_imports(page, shot, tmp_path):
    UserFactory(username="ada")
    log_in(page, "ada", PASSWORD)

    # Create the project.
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Name").fill("Animals")
    page.get_by_label("Item kind").select_option("image")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(r".*/p/animals-[a-z2-9]{6}/rulebook/edit/$"))

    # A three-label rulebook: two rows are there, add a third; first try a duplicate hotkey.
    page.get_by_label("Guidelines").fill("Label the **main animal** in the photo.")
    fill_label(page, 0, *LABELS[0])
    fill_label(page, 1, *LABELS[1])
    page.get_by_role("button", name="+ Add a label").click()
    fill_label(page, 2, "bird", "Bird", "Any bird, flying or perched.", "c")
    page.get_by_role("button", name="Publish").click()
    expect_text = page.locator(".label-form").nth(2).locator(".error")
    assert expect_text.inner_text() == "Hotkey 'c' is already used by label 1."
    assert page.locator(".msg.error").inner_text().startswith("Not published")
    shot(page, "admin-rulebook-duplicate-hotkey")
    page.locator("#id_labels-2-hotkey").fill("b")
    page.get_by_label("What changed").fill("First version")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/rulebook/history/")
    assert "Published version 1." in page.locator(".messages").inner_text()

    # Change a definition and publish v2.
    page.get_by_role("link", name="Edit rulebook").click()
    page.locator("#id_labels-1-definition").fill("A dog of any breed, including puppies.")
    page.get_by_label("What changed").fill("Puppies count")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/rulebook/history/")
    assert page.locator("#versions tbody tr").count() == 2

    # The history highlights the change between v1 and v2.
    diff = page.locator("#diff")
    assert "What changed from v1 to v2" in diff.inner_text()
    dog = diff.locator("[data-label=dog]")
    assert dog.locator("ins").inner_text() == "breed, including puppies."
    assert dog.locator("del").inner_text() == "breed."
    assert diff.locator("[data-label=cat]").count() == 0
    shot(page, "admin-rulebook-history")

    # v1 is unchanged.
    page.get_by_role("link", name="v1", exact=True).click()
    assert "A dog of any breed." in page.locator("#label-dog").inner_text()
    assert "puppies" not in page.locator("#label-dog").inner_text()

    # Import a zip of images.
    archive = tmp_path / "photos.zip"
    archive.write_bytes(zip_bytes({f"photos/{i}.jpg": image_bytes("JPEG", (120, 90), (20 * i, 100, 50)) for i in range(6)}))
    page.get_by_role("link", name="Import").click()
    page.get_by_label("File").set_input_files(str(archive))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url("**/imports/*/")
    assert page.locator("[data-field=created]").inner_text() == "6"
    assert page.locator("[data-field=failed]").inner_text() == "0"

    # Import a JSONL file with three bad rows among seven good ones.
    rows = [json.dumps({"id": f"j{i}", "image": data_uri((i * 30, 0, 200)), "metadata": {"camera": "a"}}) for i in range(7)]
    rows.insert(2, "{this is not json")
    rows.insert(5, json.dumps({"id": "t1", "text": "a caption, not an image"}))
    rows.insert(8, json.dumps({"id": "g1", "image": "data:image/png;base64," + base64.b64encode(b"not a png at all").decode()}))
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text("\n".join(rows) + "\n")
    page.get_by_role("link", name="Import more").click()
    page.get_by_label("File").set_input_files(str(jsonl))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url("**/imports/*/")
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 3
    reported = [tuple(errors.nth(i).locator("td").all_inner_texts()) for i in range(3)]
    assert reported == [
        ("line 3", "line", "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
        ("line 6", "image", "this project labels images; the row has text"),
        ("line 9", "image", "not an image: the content is not JPEG, PNG, WebP or TIFF"),
    ]
    assert page.locator("[data-field=created]").inner_text() == "7"
    shot(page, "admin-import-errors")

    # Every other row is in the item browser, with thumbnails.
    page.get_by_role("link", name="Items").click()
    assert page.locator("#items .thumb").count() == 13
    page.get_by_label("metadata field").fill("camera")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("#items .thumb").count() == 7
    assert page.locator("#items .thumb img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "admin-items")

    project = Project.objects.get(slug__startswith="animals-")
    assert Item.objects.filter(project=project).count() == 13
    assert list(RulebookVersion.objects.filter(project=project, status="published").order_by("number").values_list("number", flat=True)) == [1, 2]
