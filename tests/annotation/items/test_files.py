"""Item images: an annotator sees only what the queue handed them (or the rulebook shows);
reviewers and admins see every item."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from annotation.imports import services as imports
from annotation.items.models import Item
from annotation.labeling import services as labeling
from annotation.rulebook import services as rulebook_services
from tests.conftest import image_bytes, labels, publish, zip_bytes


@pytest.fixture
def items(image_team):
    publish(image_team, "cat", "dog")
    job = imports.import_create(
        actor=image_team.admin, project=image_team.project, name="a.zip",
        upload=io.BytesIO(zip_bytes({f"{n}.png": image_bytes("PNG", color=(n * 40, 10, 10)) for n in range(3)})),
    )  # fmt: skip
    imports.import_start(job=job)
    return list(Item.objects.filter(project=image_team.project).order_by("pk"))


def get(user, project, item, which="image"):
    client = Client()
    client.force_login(user)
    return client.get(f"/p/{project.slug}/items/{item.pk}/{which}")


def test_an_annotator_cannot_fetch_an_item_they_do_not_hold(image_team, items):
    for which in ("image", "thumbnail"):
        assert get(image_team.annotator, image_team.project, items[0], which).status_code == 404
    for who in (image_team.reviewer, image_team.admin):
        assert get(who, image_team.project, items[0]).status_code == 200


def test_an_annotator_sees_the_item_they_hold_and_the_ones_they_voted_on(image_team, items):
    project, annotator = image_team.project, image_team.annotator
    lease = labeling.item_lease_next(project=project, annotator=annotator)
    assert get(annotator, project, lease.item).status_code == 200
    others = [i for i in items if i.pk != lease.item_id]
    assert all(get(annotator, project, i).status_code == 404 for i in others)
    labeling.vote_cast(project=project, annotator=annotator, item_id=lease.item_id, client_id="c-1", value="cat")
    assert get(annotator, project, lease.item).status_code == 200  # voted on: still theirs
    # An item given back without a vote is no longer theirs to look at.
    second = labeling.item_lease_next(project=project, annotator=annotator)
    labeling.lease_release(project=project, annotator=annotator, item_id=second.item_id, skip=False)
    assert get(annotator, project, second.item).status_code == 404


def test_rulebook_examples_are_shown_to_annotators(image_team, items):
    example = items[2]
    rows = labels("cat", "dog")
    rows[0]["fit_examples"] = [example.external_id]
    rulebook_services.rulebook_draft_save(actor=image_team.admin, project=image_team.project, guidelines="", unclear_instructions="",
                                 do_not_label="", labels=rows)  # fmt: skip
    rulebook_services.rulebook_publish(actor=image_team.admin, project=image_team.project)
    assert get(image_team.annotator, image_team.project, example, "thumbnail").status_code == 200
    assert get(image_team.annotator, image_team.project, items[1], "thumbnail").status_code == 404
