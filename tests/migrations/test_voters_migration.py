"""A database made before voters existed (annotation 0010, consensus 0002) migrates to one kind of
voter with every vote, reliability, suspension, ground truth and item state kept, each attributed
to the same identity as before. Runs on whichever database the suite runs on (SQLite, and
PostgreSQL in CI's second pass)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("annotation", "0010_item_colour"), ("consensus", "0002_review_case")]


def migrate(targets):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.fixture
def old_apps(transactional_db):  # type: ignore[no-untyped-def]
    apps = migrate(BEFORE)
    try:
        yield apps
    finally:
        migrate(latest())  # the rest of the suite needs today's schema, whatever happened


def build_old(apps):  # type: ignore[no-untyped-def]
    """Two projects at the old schema: members (one suspended, one who left), imported
    annotators (one suspended), leases, votes with an undo chain, an estimate's reliabilities,
    ground truth, items in every state. Returns what each row meant."""
    get = apps.get_model
    User, Project, Membership = get("auth", "User"), get("annotation", "Project"), get("annotation", "Membership")
    Rulebook, Item, Lease = get("annotation", "RulebookVersion"), get("annotation", "Item"), get("annotation", "Lease")
    Vote, External = get("annotation", "Vote"), get("annotation", "ExternalAnnotator")
    Estimate, Reliability, GroundTruth = get("consensus", "Estimate"), get("consensus", "Reliability"), get("consensus", "GroundTruth")
    ReviewCase = get("consensus", "ReviewCase")
    now = timezone.now()
    paused = now - dt.timedelta(days=1)
    users = {n: User.objects.create(username=n, password="x") for n in ("admin", "ann", "bob", "sam", "gone")}
    labels = [{"key": "cat", "name": "Cat"}, {"key": "dog", "name": "Dog"}]

    def project(slug):  # type: ignore[no-untyped-def]
        p = Project.objects.create(name=slug, slug=slug, item_kind="text")
        rb = Rulebook.objects.create(project=p, status="published", number=1, labels=labels, published_at=now)
        Project.objects.filter(pk=p.pk).update(current_rulebook=rb)
        return p, rb

    p1, rb1 = project("one")
    p2, rb2 = project("two")
    for name, role in (("admin", "admin"), ("ann", "annotator"), ("bob", "annotator"), ("sam", "annotator")):
        Membership.objects.create(
            project=p1, user=users[name], role=role,
            suspended_at=paused if name == "sam" else None, suspended_reason="random answers" if name == "sam" else "",
        )  # fmt: skip
    Membership.objects.create(project=p2, user=users["ann"], role="annotator")
    w1 = External.objects.create(project=p1, name="w1")
    w2 = External.objects.create(project=p1, name="w2", suspended_at=paused, suspended_reason="a bot")
    w_other = External.objects.create(project=p2, name="w1")  # the same name in another project: another identity

    def item(p, name, state, gold=None):  # type: ignore[no-untyped-def]
        return Item.objects.create(project=p, external_id=name, kind="text", text=name, content_hash=f"h-{p.pk}-{name}",
                                   state=state, gold=gold)  # fmt: skip

    x0 = item(p1, "x0", "ground_truth")
    x1 = item(p1, "x1", "review")
    x2 = item(p1, "x2", "queued")
    x3 = item(p1, "x3", "queued", gold="cat")
    y0 = item(p2, "y0", "queued")
    meant: dict[int, tuple[int, str, str]] = {}  # vote id → (project id, "member"/"external", username/name)

    def vote(p, rb, it, value, *, user=None, external=None, client_id, kind="vote", supersedes=None, lease=True):  # type: ignore[no-untyped-def]
        held = None
        if user is not None and lease:
            held = Lease.objects.create(project=p, item=it, annotator=user, rulebook_version=rb, status="voted",
                                        created_at=now, expires_at=now + dt.timedelta(minutes=5), closed_at=now)  # fmt: skip
        v = Vote.objects.create(project=p, item=it, annotator=user, external=external, rulebook_version=rb, lease=held,
                                kind=kind, value=value, client_id=client_id, supersedes=supersedes, created_at=now,
                                time_spent_ms=1200 if user else 0)  # fmt: skip
        meant[v.pk] = (p.pk, "member", user.username) if user else (p.pk, "external", external.name)
        return v

    x0_votes = [
        vote(p1, rb1, x0, "cat", user=users["ann"], client_id="c-1"),
        vote(p1, rb1, x0, "cat", user=users["bob"], client_id="c-2"),
        vote(p1, rb1, x0, "dog", user=users["sam"], client_id="c-3"),
        vote(p1, rb1, x0, "cat", external=w1, client_id="import-w1-x0"),
    ]
    first = vote(p1, rb1, x1, "dog", user=users["ann"], client_id="c-4")
    undo = vote(p1, rb1, x1, None, user=users["ann"], client_id="c-5", kind="retract", supersedes=first, lease=False)
    vote(p1, rb1, x1, "cat", user=users["ann"], client_id="c-6", supersedes=undo, lease=False)
    vote(p1, rb1, x1, "dog", user=users["bob"], client_id="c-7")
    vote(p1, rb1, x1, "dog", external=w2, client_id="import-w2-x1")
    vote(p1, rb1, x2, "cat", user=users["gone"], client_id="c-8")  # their membership has ended since
    vote(p1, rb1, x3, "dog", user=users["bob"], client_id="c-9")
    vote(p2, rb2, y0, "cat", user=users["ann"], client_id="c-10")
    vote(p2, rb2, y0, "dog", external=w_other, client_id="import-w1-y0")
    Item.objects.filter(pk=x0.pk).update(votes_count=3)

    estimate = Estimate.objects.create(project=p1, method="dawid_skene", labels=["cat", "dog"], class_prior=[0.5, 0.5],
                                       default_confusion=[[0.8, 0.2], [0.2, 0.8]], votes=10, items=4)  # fmt: skip
    accuracy = {"ann": 0.91, "bob": 0.82, "sam": 0.33, "gone": 0.74, "w1": 0.66, "w2": 0.25}
    for name, acc in accuracy.items():
        who = {"external": {"w1": w1, "w2": w2}[name]} if name.startswith("w") else {"annotator": users[name]}
        Reliability.objects.create(estimate=estimate, confusion=[[acc, 1 - acc], [1 - acc, acc]], accuracy=acc, **who)
    GroundTruth.objects.create(project=p1, item=x0, label="cat", source="consensus", method="dawid_skene", posterior=0.97,
                               agreement=0.75, votes=[v.pk for v in x0_votes], rulebook_version=rb1, decided_at=now)  # fmt: skip
    ReviewCase.objects.create(project=p1, item=x1, reason="split", priority=1, opened_at=now)
    return {
        "meant": meant,
        "states": dict(Item.objects.values_list("pk", "state")),
        "ground_truth": list(GroundTruth.objects.values_list("item_id", "label", "votes", "posterior", "withdrawn_at")),
        "chains": dict(Vote.objects.values_list("pk", "supersedes_id")),
        "accuracy": accuracy,
        "paused": paused,
        "projects": (p1.pk, p2.pk),
    }


def test_every_vote_reliability_suspension_and_decision_keeps_its_identity(old_apps):
    old = build_old(old_apps)
    migrate(latest())

    from annotation.items.models import Item
    from annotation.labeling.models import Vote
    from annotation.projects.models import Membership, Project
    from annotation.voters.models import Voter, VoterKind
    from consensus.adapters import project_votes
    from consensus.decisions.models import GroundTruth, Reliability
    from consensus.reporting.annotators import annotator_quality

    p1, p2 = old["projects"]

    def identity(voter: Voter) -> tuple[int, str, str]:
        return (voter.project_id, voter.kind, voter.user.username if voter.user else voter.name)

    votes = {v.pk: v for v in Vote.objects.select_related("voter__user")}
    assert {pk: identity(v.voter) for pk, v in votes.items()} == old["meant"]
    assert all(v.voter.project_id == v.project_id for v in votes.values())
    assert dict(Vote.objects.values_list("pk", "supersedes_id")) == old["chains"]
    # One voter per identity: ann is two voters (one per project), "w1" too.
    assert sorted(identity(v) for v in Voter.objects.select_related("user")) == sorted(
        [(p1, "member", n) for n in ("admin", "ann", "bob", "gone", "sam")] + [(p1, "external", "w1"), (p1, "external", "w2")]
        + [(p2, "member", "ann"), (p2, "external", "w1")]
    )  # fmt: skip
    for m in Membership.objects.select_related("voter"):
        assert (m.voter.project_id, m.voter.user_id, m.voter.kind) == (m.project_id, m.user_id, VoterKind.MEMBER)
    # The member who left keeps a voter (their votes stay theirs), without a membership.
    assert not Membership.objects.filter(voter=Voter.objects.get(project_id=p1, user__username="gone")).exists()

    suspended = {identity(v): (v.suspended_at, v.suspended_reason) for v in Voter.objects.filter(suspended_at__isnull=False)}
    assert suspended == {(p1, "member", "sam"): (old["paused"], "random answers"), (p1, "external", "w2"): (old["paused"], "a bot")}

    accuracy = {identity(r.voter)[2]: r.accuracy for r in Reliability.objects.select_related("voter__user")}
    assert accuracy == old["accuracy"]
    assert all(r.voter.project_id == p1 for r in Reliability.objects.select_related("voter"))

    assert dict(Item.objects.values_list("pk", "state")) == old["states"]
    assert list(GroundTruth.objects.values_list("item_id", "label", "votes", "posterior", "withdrawn_at")) == old["ground_truth"]
    assert "annotation_externalannotator" not in connection.introspection.table_names()

    # What the votes mean is unchanged: the suspended member's and imported annotator's votes do not count.
    project = Project.objects.select_related("current_rulebook").get(pk=p1)
    pv = project_votes(project_id=p1, labels=["cat", "dog"])
    counted = {identity(v) for v in Voter.objects.filter(pk__in=pv.voters).select_related("user")}
    assert counted == {(p1, "member", "ann"), (p1, "member", "bob"), (p1, "member", "gone"), (p1, "external", "w1")}
    report = annotator_quality(project=project)
    rows = {r.name: (r.suspended, r.suspended_reason, r.votes) for r in report.rows}
    assert rows["sam"] == (True, "random answers", 1) and rows["w2 (imported)"] == (True, "a bot", 1)
    assert rows["ann"][2] == 2 and rows["w1 (imported)"] == (False, "", 1)  # ann's undone vote is not current
