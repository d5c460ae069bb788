"""Deciding items through the product's services: after votes, on re-estimation, on import."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from annotation.exceptions import ValidationFailed
from annotation.imports.votes import votes_import
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Vote
from annotation.projects.models import AuditEvent
from annotation.voters.models import Voter, VoterKind
from consensus.decisions.models import Estimate, GroundTruth
from consensus.decisions.services import consensus_reestimate
from tests.annotation.labeling.test_services import add_items, annotators, vote


@pytest.fixture
def ready(team):
    from tests.conftest import publish

    publish(team, "cat", "dog", "fox")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 2, 3, 0
    team.project.save()
    return team


def cast(team, users, labels):
    for user, label in zip(users, labels, strict=True):
        vote(team, user, labeling.item_lease_next(project=team.project, annotator=user), value=label)


def test_agreeing_votes_promote_with_provenance(ready):
    (item,) = add_items(ready.project, 1)
    a, b = annotators(ready, 2)
    cast(ready, (a, b), ("cat", "cat"))
    gt = GroundTruth.objects.get(item=item)
    votes = list(Vote.objects.filter(item=item).values_list("pk", flat=True))
    assert (gt.label, gt.source, sorted(gt.votes), gt.agreement) == ("cat", "consensus", sorted(votes), 1.0)
    assert gt.posterior >= 0.9 and gt.distribution["cat"] == pytest.approx(gt.posterior)
    assert gt.method == "dawid_skene" and gt.rulebook_version_id == ready.project.current_rulebook_id
    assert Item.objects.get(pk=item.pk).state == ItemState.GROUND_TRUTH


def test_a_split_asks_for_one_more_vote_then_goes_to_review_at_max_votes(ready):
    (item,) = add_items(ready.project, 1)
    a, b, c = annotators(ready, 3)
    cast(ready, (a, b), ("cat", "dog"))
    item.refresh_from_db()
    assert (item.state, item.extra_votes) == (ItemState.QUEUED, 1)
    assert labeling.item_lease_next(project=ready.project, annotator=c).item_id == item.pk  # the third vote is owed
    vote(ready, c, labeling.item_lease_next(project=ready.project, annotator=c), value="fox")
    assert Item.objects.get(pk=item.pk).state == ItemState.REVIEW
    assert not GroundTruth.objects.filter(item=item).exists()


def test_undo_under_a_promoted_item_withdraws_its_ground_truth_with_an_audit_entry(ready):
    (item,) = add_items(ready.project, 1)
    a, b = annotators(ready, 2)
    cast(ready, (a, b), ("cat", "cat"))
    labeling.vote_undo(project=ready.project, annotator=b, client_id="undo-1")
    gt = GroundTruth.objects.get(item=item)
    assert gt.withdrawn_at is not None and "undone" in gt.withdrawn_reason
    assert Item.objects.get(pk=item.pk).state == ItemState.QUEUED
    assert AuditEvent.objects.filter(verb="ground_truth.withdrawn", object_id=str(item.pk)).exists()


def test_collapsed_support_sends_ground_truth_to_review_never_flips_it(ready):
    (item,) = add_items(ready.project, 1)  # external id x0
    a, b = annotators(ready, 2)
    cast(ready, (a, b), ("cat", "cat"))
    votes_import(actor=ready.admin, project=ready.project, votes=b"item,annotator,label\nx0,w1,dog\nx0,w2,dog\nx0,w3,dog\n")
    item.refresh_from_db()
    assert item.state == ItemState.REVIEW
    gt = GroundTruth.objects.get(item=item)
    assert gt.label == "cat" and gt.withdrawn_at is not None  # the old label is kept, not flipped
    event = AuditEvent.objects.get(verb="ground_truth.collapsed", object_id=str(item.pk))
    assert event.before["label"] == "cat" and event.after["best"] == "dog"


@override_settings(QUORUM_REESTIMATE_EVERY=3)
def test_reestimation_runs_in_the_background_after_every_n_votes(ready, django_capture_on_commit_callbacks):
    add_items(ready.project, 3)
    users = annotators(ready, 2)
    assert not Estimate.objects.exists()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            cast(ready, users, ("cat", "cat"))
    estimate = Estimate.objects.get(project=ready.project)
    assert estimate.votes >= 3 and estimate.reliabilities.count() == 2
    assert AuditEvent.objects.filter(verb="consensus.reestimated").count() == 1


def test_gold_items_stay_honeypots_and_are_clamped(ready):
    (item,) = add_items(ready.project, 1, gold="dog")
    votes_import(actor=ready.admin, project=ready.project, votes=b"item,annotator,label\nx0,w1,cat\nx0,w2,cat\nx0,w3,cat\n")
    item.refresh_from_db()
    assert item.state == ItemState.QUEUED and not GroundTruth.objects.filter(item=item).exists()
    (row,) = [r for r in _export(ready, "jsonl") if r["item"] == "x0"]
    assert (row["label"], row["posterior"], row["source"]) == ("dog", 1.0, "gold")


def test_vote_import_keeps_good_rows_and_names_each_bad_one(ready):
    Item.objects.create(project=ready.project, kind="text", text="a", content_hash="ha", external_id="a")
    data = (
        b"item,annotator,label\n"
        b"a,w1,cat\n"  # good
        b"zz,w1,cat\n"  # unknown item
        b"a,w2,wolf\n"  # unknown label
        b"a,,cat\n"  # no annotator
        b"a,w1,dog\n"  # a second, different answer
        b"a,w3,Dog\n"  # label by name, any case: good
    )
    result = votes_import(actor=ready.admin, project=ready.project, votes=data)
    assert result.votes_created == 2
    assert [(e["row"], e["field"]) for e in result.errors] == [(3, "item"), (4, "label"), (5, "annotator"), (6, "label")]
    assert "append-only" in result.errors[3]["reason"] and "cat, dog, fox" in result.errors[1]["reason"]
    assert Voter.objects.filter(project=ready.project, kind=VoterKind.EXTERNAL).count() == 2
    again = votes_import(actor=ready.admin, project=ready.project, votes=data)
    assert (again.votes_created, again.unchanged) == (0, 2)
    assert Vote.objects.filter(project=ready.project).count() == 2
    with pytest.raises(ValidationFailed, match="missing label"):
        votes_import(actor=ready.admin, project=ready.project, votes=b"item,annotator\na,w1\n")


def test_vote_import_fails_a_line_over_the_limit_alone_and_refuses_a_header_too_wide(ready, settings):
    """votes.csv and gold.csv are read line by line within QUORUM_MAX_LINE_BYTES: a long line is
    one bad row (read past, never held), the rows around it are kept."""
    settings.QUORUM_MAX_LINE_BYTES = 200
    for name in ("a", "b"):
        Item.objects.create(project=ready.project, kind="text", text=name, content_hash=f"h{name}", external_id=name)
    votes = b"item,annotator,label\na,w1,cat\n" + b"a,w2," + b"x" * 100_000 + b"\nb,w1,dog\n"
    gold = b"item,label\n" + b"a," + b"c" * 300 + b"\nb,dog\n"
    result = votes_import(actor=ready.admin, project=ready.project, votes=votes, gold=gold, decide=False)
    too_long = "row is longer than 200 bytes, the limit for one line; skipped unread"
    assert result.errors == [
        {"file": "gold.csv", "row": 2, "field": "line", "reason": too_long},
        {"file": "votes.csv", "row": 3, "field": "line", "reason": too_long},
    ]
    assert (result.rows, result.votes_created, result.gold_set) == (3, 2, 1)
    assert Item.objects.get(project=ready.project, external_id="b").gold == "dog"
    settings.QUORUM_MAX_CSV_COLUMNS = 10
    wide = ("item,annotator,label," + ",".join(f"c{n}" for n in range(8)) + "\n").encode()
    with pytest.raises(ValidationFailed, match="the header has 11 columns; the limit is 10"):
        votes_import(actor=ready.admin, project=ready.project, votes=wide)


def test_import_votes_create_then_consensus_and_export(db, tmp_path, capsys):
    path = tmp_path / "votes.csv"
    rows = [("i1", "w1", "Yes"), ("i1", "w2", "Yes"), ("i1", "w3", "Yes"), ("i2", "w1", "No"), ("i2", "w2", "Yes")]
    path.write_text("item,annotator,label\n" + "".join(f"{i},{w},{lab}\n" for i, w, lab in rows))
    call_command("import_votes", "yn", str(path), "--create")
    capsys.readouterr()
    call_command("consensus", "yn", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert {"alpha", "items", "votes", "promoted", "review", "need_more"} <= set(summary)
    assert (summary["items"], summary["votes"]) == (2, 5)
    out = tmp_path / "gt.csv"
    call_command("export", "yn", "--format", "csv", "--all-items", "-o", str(out))
    got = {r["item"]: r for r in csv.DictReader(out.open())}
    assert list(next(iter(got.values())))[:4] == ["item", "label", "posterior", "state"]
    assert (got["i1"]["label"], got["i1"]["state"]) == ("yes", "ground_truth")
    assert got["i2"]["state"] in ("queued", "review") and got["i2"]["source"] == ""


def test_reestimate_reports_its_counts(ready):
    Item.objects.create(project=ready.project, kind="text", text="a", content_hash="ha", external_id="a")
    votes_import(actor=ready.admin, project=ready.project, votes=b"item,annotator,label\na,w1,cat\na,w2,cat\n", decide=False)
    summary = consensus_reestimate(project=ready.project)
    assert (summary.items, summary.votes, summary.promoted) == (1, 2, 1)


def _export(team, fmt):
    out = io.StringIO()
    call_command("export", team.project.slug, "--format", fmt, "--all-items", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_api_imports_votes_keeping_good_rows_and_exports_provenance(ready):
    from tests.conftest import api_client

    Item.objects.create(project=ready.project, kind="text", text="a", content_hash="ha", external_id="a")
    client = api_client(ready.admin)
    votes = io.BytesIO(b"item,annotator,label\na,w1,cat\na,w2,cat\na,w3,cat\nb,w1,cat\n")
    votes.name = "votes.csv"
    response = client.post(f"/api/projects/{ready.project.slug}/votes/import/", {"votes": votes}, format="multipart")
    body = response.json()
    assert response.status_code == 200 and body["votes_created"] == 3
    assert body["errors"] == [{"file": "votes.csv", "row": 5, "field": "item", "reason": body["errors"][0]["reason"]}]
    assert body["consensus"]["promoted"] == 1
    bad = io.BytesIO(b"thing,who\n1,2\n")
    bad.name = "votes.csv"
    response = client.post(f"/api/projects/{ready.project.slug}/votes/import/", {"votes": bad}, format="multipart")
    assert response.status_code == 400 and "missing item, annotator, label" in response.json()["detail"]
    lines = b"".join(client.get(f"/api/projects/{ready.project.slug}/export/").streaming_content).splitlines()
    record = json.loads(lines[0])
    assert (record["item"], record["label"], record["source"], len(record["vote_ids"])) == ("a", "cat", "consensus", 3)


def test_import_votes_page_keeps_good_rows_and_lists_bad_ones_escaped(ready, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(ready.admin)
    votes = SimpleUploadedFile("votes.csv", b"item,annotator,label\nn1,w1,cat\nn1,w2,cat\nn1,w3,cat\nn2,w1,<b>x</b>\n")
    response = client.post(f"/p/{ready.project.slug}/import/votes/", {"votes": votes, "create_items": "on"})
    html = response.content.decode()
    assert response.status_code == 200 and "<b>3</b> votes imported" in html
    assert "&#x27;&lt;b&gt;x&lt;/b&gt;&#x27; is not a label" in html and "<b>x</b>" not in html
    assert "<b>1</b> promoted" in html
    assert Item.objects.get(project=ready.project, external_id="n1").state == ItemState.GROUND_TRUTH
