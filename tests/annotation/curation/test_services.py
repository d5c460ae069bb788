"""Curation with the database: an import clusters near-duplicates and flags bad items; the admin
keeps or excludes them; excluded items never reach a queue; every decision is audited and undone."""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import pytest
import skimage.data
from django.test import Client
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from annotation.curation import selectors as curation_selectors
from annotation.curation import services as curation_services
from annotation.curation.models import DuplicateCluster
from annotation.imports import services as imports
from annotation.items import selectors as items_selectors
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease
from annotation.projects.models import AuditEvent
from annotation.views import curation as views_curation
from tests.conftest import jsonl, publish, zip_bytes

PHOTOS = os.path.dirname(skimage.data.__file__)


def photo(name: str) -> Image.Image:
    return Image.open(os.path.join(PHOTOS, name)).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **kw)
    return out.getvalue()


def run(team, name, data):
    job = imports.import_create(actor=team.admin, project=team.project, name=name, upload=io.BytesIO(data))
    return imports.import_start(job=job, background=False)


@pytest.fixture
def curated(image_team):
    """An image project after importing a zip of real photos, copies of them, and broken files."""
    camera, coffee, rocket = photo("camera.png"), photo("coffee.png"), photo("rocket.jpg")
    original = jpeg(camera)
    exif = Image.Exif()
    exif[271], exif[272] = "Quorum Cams\x00", "Q-1"
    exif.get_ifd(0x8769)[36867] = "2024:05:17 08:30:00"
    files = {
        "camera.jpg": original,
        "camera_small.jpg": jpeg(camera.resize((384, 384))),
        "camera_bright.jpg": jpeg(ImageEnhance.Brightness(camera).enhance(1.25)),
        "camera_copy.jpg": original,  # the same bytes under another name
        "coffee.jpg": jpeg(coffee, exif=exif),
        "coffee_blurred.jpg": jpeg(coffee.filter(ImageFilter.GaussianBlur(4))),
        "rocket.jpg": jpeg(rocket),
        "rocket_dark.jpg": jpeg(ImageEnhance.Brightness(rocket).enhance(0.3)),
        "tiny.jpg": jpeg(coffee.resize((40, 30))),
        "truncated.jpg": original[: len(original) // 2],
        "fake.jpg": b"I am a text file, not a photograph.\n" * 10,
    }
    job = run(image_team, "photos.zip", zip_bytes(files))
    items = {i.external_id: i for i in Item.objects.filter(project=image_team.project)}
    return image_team, job, items


def test_import_refuses_broken_files_skips_exact_copies_and_clusters_near_duplicates(curated):
    team, job, items = curated
    assert (job.created, job.skipped, job.failed) == (8, 1, 2)
    assert job.skipped_rows == [{"row": "camera_copy.jpg", "reason": "exact duplicate of camera.jpg in this import (the same file content)"}]
    reasons = {e["row"]: e["reason"] for e in job.errors}
    assert reasons["truncated.jpg"].startswith("image is truncated or corrupted")
    assert reasons["fake.jpg"] == "not an image: the content is not JPEG, PNG, WebP or TIFF"
    clusters = list(DuplicateCluster.objects.filter(project=team.project))
    groups = sorted(sorted(i.external_id for i in c.items.all()) for c in clusters)
    assert ["camera.jpg", "camera_bright.jpg", "camera_small.jpg"] in groups
    camera = next(c for c in clusters if c.representative.external_id.startswith("camera"))
    assert camera.representative.external_id in ("camera.jpg", "camera_bright.jpg")  # full size, not the small copy
    small = Item.objects.get(pk=items["camera_small.jpg"].pk)
    assert "near_duplicate" in small.flags and small.cluster_id == camera.pk


def test_quality_flags_follow_the_thresholds(curated):
    team, _, items = curated
    flags = {ext: Item.objects.get(pk=i.pk).flags for ext, i in items.items()}
    assert "blurry" in flags["coffee_blurred.jpg"] and "blurry" not in flags["coffee.jpg"]
    assert "dark" in flags["rocket_dark.jpg"] and "dark" not in flags["rocket.jpg"]
    assert "tiny" in flags["tiny.jpg"]
    # A stricter darkness threshold flags more on the next run, without reading any file again.
    team.project.dark_threshold = 120
    team.project.save()
    curation_services.curation_run(project=team.project, actor=team.admin)
    assert "dark" in Item.objects.get(pk=items["rocket.jpg"].pk).flags


def test_exif_goes_into_metadata_and_can_be_filtered(curated):
    team, _, items = curated
    coffee = Item.objects.get(pk=items["coffee.jpg"].pk)
    assert coffee.metadata["exif_camera_make"] == "Quorum Cams"
    assert coffee.metadata["exif_camera_model"] == "Q-1"
    assert coffee.metadata["exif_taken_at"] == "2024-05-17T08:30:00"

    found = items_selectors.item_list(project=team.project, filters=items_selectors.ItemFilters(taken_from=dt.date(2024, 5, 17), taken_to=dt.date(2024, 5, 17)))
    assert [i.external_id for i in found] == ["coffee.jpg"]
    assert not items_selectors.item_list(project=team.project, filters=items_selectors.ItemFilters(taken_from=dt.date(2024, 5, 18))).exists()
    assert [i.external_id for i in items_selectors.item_list(project=team.project, filters=items_selectors.ItemFilters(meta_key="exif_camera_model", meta_value="Q-1"))] == ["coffee.jpg"]
    blurry = [i.external_id for i in items_selectors.item_list(project=team.project, filters=items_selectors.ItemFilters(flag="blurry"))]
    assert "coffee_blurred.jpg" in blurry and "coffee.jpg" not in blurry


def test_excluded_items_never_reach_a_queue_and_undo_puts_them_back(curated):
    team, _, items = curated
    publish(team, "cat", "dog")
    team.project.gold_rate = 0
    team.project.save()
    small = items["camera_small.jpg"]
    # The annotator holds it when the admin excludes it: the lease is released.
    leases = []
    while (lease := labeling.item_lease_next(project=team.project, annotator=team.annotator)) is not None and lease.item_id != small.pk:
        leases.append(lease)
        labeling.vote_cast(project=team.project, annotator=team.annotator, item_id=lease.item_id, client_id=f"c{lease.item_id}", value="cat")
    assert lease is not None and lease.item_id == small.pk
    assert curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[small.pk], decision="exclude") == 1
    small.refresh_from_db()
    assert (small.state, small.curation, small.excluded_from) == (ItemState.EXCLUDED, "excluded", ItemState.QUEUED)
    assert Lease.objects.get(pk=lease.pk).status == "released"
    others = [labeling.item_lease_next(project=team.project, annotator=u) for u in (team.reviewer, team.admin)]
    assert small.pk not in [x.item_id for x in others if x]
    # Undo: back in the queue, and both changes are in the audit log.
    curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[small.pk], decision="undo")
    small.refresh_from_db()
    assert (small.state, small.curation) == (ItemState.QUEUED, "")
    verbs = list(AuditEvent.objects.filter(project=team.project, object_id=str(small.pk), verb__startswith="curation.").values_list("verb", "before", "after"))
    assert [v for v, *_ in verbs] == ["curation.undo", "curation.exclude"]
    assert verbs[1][1]["state"] == "queued" and verbs[1][2]["state"] == "excluded"


def test_a_decision_with_an_id_from_another_project_changes_nothing(curated):
    team, _, items = curated
    other = Item.objects.create(project=team.other_project, kind="image", content_hash="x")
    with pytest.raises(Exception, match="not in this project"):
        curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[items["tiny.jpg"].pk, other.pk], decision="exclude")
    assert Item.objects.get(pk=items["tiny.jpg"].pk).state == ItemState.QUEUED


def test_keep_marks_reviewed_and_clusters_survive_a_rerun(curated):
    team, _, items = curated
    curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[items["camera_bright.jpg"].pk], decision="keep")
    summary = curation_services.curation_run(project=team.project, actor=team.admin)
    assert summary.clusters == DuplicateCluster.objects.filter(project=team.project).count() >= 1
    bright = Item.objects.get(pk=items["camera_bright.jpg"].pk)
    assert bright.curation == "kept" and bright.cluster_id is not None


def test_a_rerun_writes_only_what_changed_and_keeps_cluster_ids(curated):
    team, _, items = curated
    before = dict(Item.objects.filter(project=team.project).values_list("pk", "cluster_id"))
    clusters = set(DuplicateCluster.objects.filter(project=team.project).values_list("pk", flat=True))
    assert clusters
    curation_services.curation_run(project=team.project, actor=team.admin)
    audit = AuditEvent.objects.filter(project=team.project, verb="curation.run").latest("pk")
    assert audit.after["items_changed"] == 0
    assert dict(Item.objects.filter(project=team.project).values_list("pk", "cluster_id")) == before
    assert set(DuplicateCluster.objects.filter(project=team.project).values_list("pk", flat=True)) == clusters

    # The rocket's dark copy gets a hash far from the rocket: that cluster goes, with its links and flags.
    rocket, dark = items["rocket.jpg"], items["rocket_dark.jpg"]
    Item.objects.filter(pk=dark.pk).update(near_hash=~Item.objects.get(pk=rocket.pk).near_hash)
    # The camera cluster's representative is excluded: the cluster keeps its id, led by another member.
    camera_cluster = before[items["camera.jpg"].pk]
    led_by = DuplicateCluster.objects.get(pk=camera_cluster).representative_id
    curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[led_by], decision="exclude")
    summary = curation_services.curation_run(project=team.project, actor=team.admin)
    after = dict(Item.objects.filter(project=team.project).values_list("pk", "cluster_id"))
    assert after[rocket.pk] is None and after[dark.pk] is None
    assert not DuplicateCluster.objects.filter(pk=before[rocket.pk]).exists()
    assert set(DuplicateCluster.objects.filter(project=team.project).values_list("pk", flat=True)) == clusters - {before[rocket.pk]}
    assert summary.clusters == len(clusters) - 1
    assert "near_duplicate" not in Item.objects.get(pk=dark.pk).flags
    moved = DuplicateCluster.objects.get(pk=camera_cluster)
    assert moved.representative_id != led_by and after[moved.representative_id] == camera_cluster
    assert "near_duplicate" in Item.objects.get(pk=led_by).flags
    assert "near_duplicate" not in Item.objects.get(pk=moved.representative_id).flags
    assert {pk: c for pk, c in after.items() if pk not in (rocket.pk, dark.pk)} == {
        pk: c for pk, c in before.items() if pk not in (rocket.pk, dark.pk)
    }


def test_the_same_picture_in_other_colours_is_not_a_near_duplicate(image_team):
    """The hash sees luminance only: a red and a cyan print of one photo hash alike, and their
    colours keep them apart; a brightened copy of the red one joins it."""
    gray = photo("camera.png").convert("L")
    red = ImageOps.colorize(gray, black="black", white=(255, 40, 40))
    cyan = ImageOps.colorize(gray, black="black", white=(40, 255, 255))
    files = {
        "red.jpg": jpeg(red),
        "red_bright.jpg": jpeg(ImageEnhance.Brightness(red).enhance(1.2)),
        "cyan.jpg": jpeg(cyan),
    }
    job = run(image_team, "tints.zip", zip_bytes(files))
    assert job.created == 3
    items = {i.external_id: i for i in Item.objects.filter(project=image_team.project)}
    assert popcount(items["red.jpg"].near_hash ^ items["cyan.jpg"].near_hash) <= 2  # alike to the hash
    assert items["red.jpg"].colour_r > 0.5 and items["cyan.jpg"].colour_r < 0.2
    assert items["red.jpg"].cluster_id is not None and items["red.jpg"].cluster_id == items["red_bright.jpg"].cluster_id
    assert items["cyan.jpg"].cluster_id is None and "near_duplicate" not in items["cyan.jpg"].flags


def test_the_representative_is_a_copy_without_quality_flags_before_a_larger_one(image_team):
    coffee = photo("coffee.png")
    files = {
        "large_blurred.jpg": jpeg(coffee.filter(ImageFilter.GaussianBlur(4))),
        "small_sharp.jpg": jpeg(coffee.resize((300, 200), Image.Resampling.LANCZOS)),
        "larger_dark.jpg": jpeg(ImageEnhance.Brightness(coffee.resize((640, 427))).enhance(0.25)),
    }
    run(image_team, "copies.zip", zip_bytes(files))
    items = {i.external_id: i for i in Item.objects.filter(project=image_team.project)}
    assert "blurry" in items["large_blurred.jpg"].flags and "dark" in items["larger_dark.jpg"].flags
    assert not items["small_sharp.jpg"].flags  # the representative carries no flag, near_duplicate included
    (cluster,) = DuplicateCluster.objects.filter(project=image_team.project)
    assert cluster.representative.external_id == "small_sharp.jpg" and cluster.size == 3


def popcount(x: int) -> int:
    return (x & (2**64 - 1)).bit_count()


def test_text_near_duplicates_and_short_texts(team):
    rows = [
        {"id": "a", "text": "The delivery arrived two days late and the box was crushed on one side, very disappointing service."},
        {"id": "b", "text": "The delivery arrived three days late and the box was crushed on one side, very disappointing service!"},
        {"id": "c", "text": "Lovely little café with friendly staff; we will certainly come back for the pastries next summer."},
        {"id": "d", "text": "ok"},
        {"id": "e", "text": "?!"},
    ]
    job = run(team, "t.jsonl", jsonl(rows))
    assert job.created == 5
    items = {i.external_id: i for i in Item.objects.filter(project=team.project)}
    assert items["a"].cluster_id is not None and items["a"].cluster_id == items["b"].cluster_id
    assert items["c"].cluster_id is None
    assert "near_duplicate" in items["b"].flags and "near_duplicate" not in items["a"].flags
    assert set(items["d"].flags) == {"short"} and set(items["e"].flags) == {"empty"}


def test_curation_page_shows_clusters_side_by_side_and_excludes_in_bulk(curated):
    team, _, items = curated
    client = Client()
    client.force_login(team.admin)
    slug = team.project.slug
    page = client.get(f"/p/{slug}/curation/").content.decode()
    assert page.count('class="ctile') >= 3 and "representative" in page
    assert "camera_small.jpg" in page
    flagged = client.get(f"/p/{slug}/curation/?show=blurry").content.decode()
    assert "coffee_blurred.jpg" in flagged and "coffee.jpg<" not in flagged
    ids = [items["tiny.jpg"].pk, items["rocket_dark.jpg"].pk]
    response = client.post(f"/p/{slug}/curation/decide/", {"items": ids, "decision": "exclude", "next": f"/p/{slug}/curation/?show=tiny"})
    assert response.status_code == 302 and response["Location"] == f"/p/{slug}/curation/?show=tiny"
    assert set(Item.objects.filter(pk__in=ids).values_list("state", flat=True)) == {ItemState.EXCLUDED}
    # An open redirect is not followed; bad ids are refused with a message.
    assert client.post(f"/p/{slug}/curation/decide/", {"items": ids, "decision": "undo", "next": "https://evil.example/"})["Location"] == f"/p/{slug}/curation/"
    response = client.post(f"/p/{slug}/curation/decide/", {"items": ["x1"], "decision": "exclude"}, follow=True)
    assert "Not an item id" in response.content.decode()


def test_a_clusters_bulk_exclude_leaves_kept_copies_kept(curated):
    team, _, items = curated
    client = Client()
    client.force_login(team.admin)
    slug = team.project.slug
    kept = items["camera_small.jpg"]
    camera = DuplicateCluster.objects.get(pk=kept.cluster_id)
    curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[kept.pk], decision="keep")
    page = client.get(f"/p/{slug}/curation/").content.decode()
    section = page[page.index(f'id="cluster-{camera.pk}"'):]
    section = section[: section.index("</section>")]
    copies = [m.pk for m in Item.objects.filter(cluster=camera).exclude(pk=camera.representative_id) if m.pk != kept.pk]
    assert copies and f"Exclude the undecided copies ({len(copies)})" in section
    form = section.split("</form>")[0]  # the cluster's bulk form, as the browser would post it
    posted = [int(x) for x in re.findall(r'name="items" value="(\d+)"', form)]
    assert sorted(posted) == sorted(copies) and kept.pk not in posted
    client.post(f"/p/{slug}/curation/decide/", {"items": posted, "decision": "exclude", "next": f"/p/{slug}/curation/"})
    assert Item.objects.get(pk=kept.pk).curation == "kept"
    assert set(Item.objects.filter(pk__in=copies).values_list("curation", flat=True)) == {"excluded"}
    assert Item.objects.get(pk=camera.representative_id).curation == ""
    page = client.get(f"/p/{slug}/curation/?all=1").content.decode()
    section = page[page.index(f'id="cluster-{camera.pk}"'):]
    section = section[: section.index("</section>")]
    assert "Exclude the undecided copies" not in section and "Excluded here" in section and "Kept" in section


def test_the_item_page_shows_its_curation_and_an_admin_decides_there(curated):
    team, _, items = curated
    blurred = items["coffee_blurred.jpg"]
    url = f"/p/{team.project.slug}/items/{blurred.pk}/"
    reviewer = Client()
    reviewer.force_login(team.reviewer)
    page = reviewer.get(url).content.decode()
    assert "blurry" in page and "bits from" in page and "the representative" in page
    assert "Exclude from labeling" not in page  # reviewers see, admins decide
    admin = Client()
    admin.force_login(team.admin)
    assert "Exclude from labeling" in admin.get(url).content.decode()
    response = admin.post(f"/p/{team.project.slug}/curation/decide/", {"items": [blurred.pk], "decision": "exclude", "next": url})
    assert response["Location"] == url  # back to the item page
    blurred.refresh_from_db()
    assert (blurred.state, blurred.curation) == ("excluded", "excluded")
    page = admin.get(url).content.decode()
    assert "Undo the decision" in page and "Exclude from labeling" not in page


def test_the_item_pages_curation_link_opens_the_page_its_cluster_is_on(curated, monkeypatch):

    team, _, items = curated
    monkeypatch.setattr(views_curation, "CLUSTERS_PER_PAGE", 1)  # one cluster a page
    admin = Client()
    admin.force_login(team.admin)
    slug = team.project.slug
    clusters = list(curation_selectors.cluster_list(project=team.project, undecided_only=False))
    assert len(clusters) >= 3
    for n, cluster in enumerate(clusters, start=1):
        page = admin.get(f"/p/{slug}/items/{cluster.representative_id}/").content.decode()
        link = re.search(r'href="(/p/[^"]+/curation/\?all=1&amp;page=(\d+)#cluster-(\d+))"', page)
        assert link and (int(link[2]), int(link[3])) == (n, cluster.pk)
        target = admin.get(link[1].replace("&amp;", "&").split("#")[0]).content.decode()
        assert f'id="cluster-{cluster.pk}"' in target


@pytest.mark.parametrize("role", ["reviewer", "annotator", "outsider"])
def test_only_admins_decide(curated, role):
    team, _, items = curated
    client = Client()
    client.force_login(getattr(team, role))
    response = client.post(f"/p/{team.project.slug}/curation/decide/", {"items": [items["tiny.jpg"].pk], "decision": "exclude"})
    assert response.status_code == (404 if role == "outsider" else 403)
    assert Item.objects.get(pk=items["tiny.jpg"].pk).state == ItemState.QUEUED


def test_thresholds_are_validated_on_the_page(curated):
    team, *_ = curated
    client = Client()
    client.force_login(team.admin)
    data = {"near_duplicate_distance": 30, "blur_threshold": 100, "dark_threshold": 40, "bright_threshold": 220, "min_image_side": 64, "min_text_chars": 10}
    page = client.post(f"/p/{team.project.slug}/curation/", data).content.decode()
    assert "less than or equal to 11" in page and "Thresholds saved" not in page
    assert "The thresholds were not saved: check Near-duplicate distance (bits)." in page  # at the top
    assert 'max="11"' in page and 'max="255"' in page  # the browser knows the ranges too
    # Under- and over-exposed the wrong way round would flag an image as both: refused, by field.
    page = client.post(f"/p/{team.project.slug}/curation/", {**data, "near_duplicate_distance": 8, "dark_threshold": 150, "bright_threshold": 100}).content.decode()
    assert "Over-exposed must start above under-exposed" in page and "check Over-exposed above brightness" in page
    team.project.refresh_from_db()
    assert (team.project.near_duplicate_distance, team.project.dark_threshold, team.project.bright_threshold) == (10, 40, 220)
