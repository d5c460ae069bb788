"""The dashboard's snapshot: what an admin or reviewer reads at a glance, counted right."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from annotation.imports.models import ImportJob
from annotation.items.models import ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Vote
from consensus.reporting.dashboard import dashboard_snapshot
from tests.annotation.labeling.test_services import add_items, annotators, vote


@pytest.fixture
def ready(team):
    from tests.conftest import publish

    publish(team, "cat", "dog")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 2, 2, 0
    team.project.save()
    return team


def test_snapshot_counts_items_votes_labels_review_and_who_is_active(ready):
    add_items(ready.project, 4)
    a, b = annotators(ready, 2)
    for labels in (("cat", "cat"), ("cat", "dog")):  # one agreed item, one split at max votes
        for user, label in zip((a, b), labels, strict=True):
            vote(ready, user, labeling.item_lease_next(project=ready.project, annotator=user), value=label)
    held = labeling.item_lease_next(project=ready.project, annotator=ready.annotator)  # holding one now
    old = Vote.objects.filter(project=ready.project).first()
    Vote.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=3))
    ImportJob.objects.create(project=ready.project, created_by=ready.admin, source_name="x.csv", format="csv",
                             source_path="/dev/null", status="done", total=9, created=4, skipped=3, failed=2)  # fmt: skip

    snap = dashboard_snapshot(project=ready.project)

    assert snap["items"]["total"] == 4 and snap["items"][ItemState.GROUND_TRUTH] == 1
    assert snap["items"][ItemState.REVIEW] == 1 and snap["items"][ItemState.QUEUED] == 2
    hours = snap["votes"]["per_hour"]
    assert len(hours) == 24 and hours[-1]["n"] == 3 and sum(h["n"] for h in hours) == 4
    assert snap["votes"]["total"] == 4 and snap["votes"]["last_hour"] == 3
    assert {lab["key"]: (lab["ground_truth"], lab["votes_today"]) for lab in snap["labels"]} == {"cat": (1, 3), "dog": (0, 1)}
    assert snap["review"]["open"] == 1 and {r["key"]: r["n"] for r in snap["review"]["by_reason"]}["split"] == 1
    active = {p["name"]: p for p in snap["active"]}
    assert set(active) == {a.username, b.username, ready.annotator.username}
    assert active[ready.annotator.username]["holding"] == 1 and held is not None
    assert active[a.username]["last_hour"] + active[b.username]["last_hour"] == 3
    assert snap["curation"] == {"refused_rows": 2, "duplicate_rows": 3, "imports": 1, "imports_running": 0, "clusters": 0, "undecided": {}}


def test_snapshot_of_an_empty_project(team):
    snap = dashboard_snapshot(project=team.project)
    assert snap["items"]["total"] == 0 and snap["labels"] == [] and snap["active"] == []
    assert snap["agreement"] == {"series": [], "latest": None} and snap["votes"]["total"] == 0
