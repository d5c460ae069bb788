"""An admin imports a folder of real photos with altered copies and broken files, sees a cluster
of near-duplicates side by side on the curation page, excludes one picture, and an annotator
then labels everything the queue hands out without ever being shown that picture."""

from __future__ import annotations

import zipfile

import pytest

from annotation.items.models import Item
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import services as rulebook_services
from tests.conftest import labels
from tests.curation_photos import build
from tests.e2e.conftest import log_in, off_loop
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SOURCES = ("camera", "coffee", "chelsea")


def test_admin_excludes_a_near_duplicate_and_no_annotator_ever_sees_it(page, browser, live_server, shot, tmp_path):
    manifest = build(tmp_path / "photos")
    chosen = [f for f in manifest.files if f.source in SOURCES or f.broken]
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in chosen:
            zf.write(manifest.folder / f.name, f"photos/{f.name}")

    admin, annotator = UserFactory(username="ada"), UserFactory(username="ann")

    def setup():
        project = projects_services.project_create(actor=admin, name="Photos", item_kind="image")
        projects_services.member_add(actor=admin, project=project, username=annotator.username, role=Role.ANNOTATOR)
        rulebook_services.rulebook_draft_save(actor=admin, project=project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("indoor", "outdoor"))
        rulebook_services.rulebook_publish(actor=admin, project=project)
        project.min_votes, project.max_votes, project.gold_rate = 1, 1, 0
        project.save()
        return project

    project = off_loop(setup)
    log_in(page, "ada", PASSWORD)
    page.goto(f"/p/{project.slug}/import/")
    page.get_by_label("File").set_input_files(str(archive))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url("**/imports/*/")
    broken = sum(1 for f in chosen if f.broken)
    copies = sum(1 for f in chosen if f.kind == "copy")
    assert page.locator("[data-field=failed]").inner_text() == str(broken)
    assert page.locator("[data-field=skipped]").inner_text() == str(copies)
    assert "image is truncated or corrupted" in page.locator("#import-errors").inner_text()
    assert "exact duplicate of photos/orig_" in page.locator("#import-skipped").inner_text()

    # The curation page: one cluster per source photo, its pictures side by side.
    page.get_by_role("link", name="Curation").click()
    page.wait_for_url(f"**/p/{project.slug}/curation/")
    clusters = page.locator("section.cluster")
    assert clusters.count() == len(SOURCES)
    camera = clusters.filter(has_text="orig_camera.jpg")
    tiles = camera.locator("figure.ctile")
    names = tiles.locator(".cap").all_inner_texts()
    assert {"photos/orig_camera.jpg", "photos/resize_camera.jpg", "photos/crop_camera.jpg"} <= set(names)
    assert "flip" not in " ".join(names)  # a mirror image is a different picture to this hash
    camera.scroll_into_view_if_needed()  # thumbnails load lazily, as they come into view
    page.wait_for_function(
        "s => [...s.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)", arg=camera.element_handle()
    )
    boxes = [tiles.nth(k).bounding_box() for k in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"] and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert "representative" in tiles.nth(0).inner_text()
    shot(page, "curation-clusters")

    # Exclude the brightened copy of the camera photo.
    target = tiles.filter(has_text="brighten_camera.jpg")
    target.get_by_role("button", name="Exclude").click()
    page.wait_for_selector(".msg.success")
    assert "1 item excluded." in page.locator(".msg.success").inner_text()
    excluded = Item.objects.get(project=project, external_id="photos/brighten_camera.jpg")
    assert (excluded.state, excluded.curation) == ("excluded", "excluded")
    page.goto(f"/p/{project.slug}/curation/?show=near_duplicate&all=1")
    assert "Excluded" in page.locator("figure.ctile", has_text="brighten_camera.jpg").inner_text()
    # The blurred copies are flagged too.
    page.goto(f"/p/{project.slug}/curation/?show=blurry")
    assert "photos/blur_camera.jpg" in page.locator("figure.ctile .cap").all_inner_texts()
    blurred = page.locator("figure.ctile", has_text="blur_camera.jpg").inner_text()
    assert "in a near-duplicate cluster" in blurred and "bits from it" not in blurred  # "it" is the cluster view's
    shot(page, "curation-blurry")
    # The item page shows the same flags and decides too.
    page.locator("figure.ctile", has_text="blur_camera.jpg").locator("a").first.click()
    panel = page.locator("#curation")
    assert "blurry" in panel.inner_text() and "bits from the representative of a cluster of" in panel.inner_text()
    page.get_by_role("button", name="Keep").click()
    page.wait_for_selector(".msg.success")
    assert "Kept" in page.locator("#curation").inner_text()
    shot(page, "curation-item")

    # The annotator labels every item the queue hands out: the excluded one never comes.
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=live_server.url)
    ann = context.new_page()
    ann.set_default_timeout(15_000)
    log_in(ann, "ann", PASSWORD)
    ann.goto(f"/p/{project.slug}/label/")
    seen: list[str] = []
    open_items = Item.objects.filter(project=project, state="queued").count()
    while True:
        ann.wait_for_function(
            "document.querySelector('#item-name').textContent.length > 0 || document.querySelector('#placeholder').textContent.includes('Nothing left')"
        )
        name = ann.locator("#item-name").inner_text().removeprefix("· #")
        if not name:
            break
        assert name not in seen
        seen.append(name)
        ann.keyboard.press("1")
        ann.keyboard.press("Enter")
        ann.wait_for_function(
            "prev => { const t = document.querySelector('#item-name').textContent; return t !== '· #' + prev; }", arg=name
        )
    assert len(seen) == open_items and open_items >= 15
    assert str(excluded.pk) not in seen
    context.close()
