"""Item state and lease counters have one writer, ``annotation.items.transitions``.

The three ways an item is taken out of labeling — an admin's curation, a reviewer, a rulebook
example — behave the same: the holder's lease is revoked and they are told, the move is audited
with its reason, and the dashboard hears ``item.decided``. A walk over the code keeps every
other module from writing the fields.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from annotation import events
from annotation.curation import services as curation_services
from annotation.exceptions import NotAssigned, RulebookChanged
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, LeaseStatus
from annotation.projects.models import AuditEvent
from annotation.rulebook import services as rulebook_services
from consensus.review import services as review
from consensus.review.models import ReviewReason
from tests.annotation.labeling.test_services import add_items, annotators, vote
from tests.conftest import labels, publish

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def ready(team):
    publish(team, "cat", "dog")
    team.project.min_votes, team.project.max_votes, team.project.gold_rate = 2, 3, 0
    team.project.save()
    return team


@pytest.fixture
def sent(monkeypatch):
    """Every event published, as (group, payload), once its transaction commits."""
    out: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "_send", lambda group, message: out.append((group, message["payload"])))
    return out


def _exclude_by_curation(team, item):
    curation_services.curation_decide(project=team.project, actor=team.admin, item_ids=[item.pk], decision="exclude")
    return ItemState.QUEUED, "curation.exclude"


def _exclude_by_review(team, item):
    # The item went to review while the annotator still held their lease on it.
    transitions.item_move(project=team.project, item_id=item.pk, to=ItemState.REVIEW, was=ItemState.QUEUED)
    review.review_cases_open(project=team.project, cases=[(item.pk, ReviewReason.SPLIT, "cat 1, dog 1")])
    review.review_claim(project=team.project, reviewer=team.reviewer, item_id=item.pk)
    review.review_exclude(project=team.project, reviewer=team.reviewer, item_id=item.pk, reason="not a photo")
    return ItemState.REVIEW, "review.excluded"


def _exclude_as_rulebook_example(team, item):
    shown = labels("cat", "dog")
    shown[0]["fit_examples"] = [item.external_id]
    rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=shown
    )
    rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
    return ItemState.QUEUED, "item.exclude"


@pytest.mark.parametrize(
    "exclude", [_exclude_by_curation, _exclude_by_review, _exclude_as_rulebook_example], ids=["curation", "review", "rulebook"]
)
def test_every_way_out_of_labeling_revokes_the_lease_audits_and_announces(ready, sent, exclude, django_capture_on_commit_callbacks):
    item, other = add_items(ready.project, 2)
    holder, fresh = annotators(ready, 2)
    lease = labeling.item_lease_next(project=ready.project, annotator=holder)
    assert lease.item_id == item.pk and Item.objects.get(pk=item.pk).leased_count == 1
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        was, verb = exclude(ready, item)

    item.refresh_from_db()
    assert (item.state, item.leased_count) == (ItemState.EXCLUDED, 0)
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.RELEASED
    # The holder's page is told at once; the dashboard hears the move.
    revoked = [p for g, p in sent if p["type"] == "lease.revoked"]
    assert [(g, p["items"]) for g, p in sent if p["type"] == "lease.revoked"] == [
        (events.user_group(ready.project.pk, holder.pk), [item.pk])
    ]
    assert revoked[0]["reason"]
    decided = [p for _, p in sent if p["type"] == "item.decided" and p["state"] == ItemState.EXCLUDED]
    assert [(p["item"], p["from"]) for p in decided] == [(item.pk, was)]
    # One audit event says who, why, and which leases the move ended.
    audit = AuditEvent.objects.get(project=ready.project, verb=verb, object_type="item", object_id=str(item.pk))
    assert audit.before["state"] == was
    assert audit.after["state"] == ItemState.EXCLUDED and audit.after["leases_revoked"] == 1 and audit.after["reason"]
    # The holder's answer is refused, and nobody is handed the item again.
    with pytest.raises((NotAssigned, RulebookChanged)):
        vote(ready, holder, lease)
    assert labeling.item_lease_next(project=ready.project, annotator=fresh).item_id == other.pk


def test_curation_undo_puts_the_state_back_and_announces_it(ready, sent, django_capture_on_commit_callbacks):
    (item,) = add_items(ready.project, 1)
    curation_services.curation_decide(project=ready.project, actor=ready.admin, item_ids=[item.pk], decision="exclude")
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        curation_services.curation_decide(project=ready.project, actor=ready.admin, item_ids=[item.pk], decision="undo")
    item.refresh_from_db()
    assert (item.state, item.excluded_from, item.curation) == (ItemState.QUEUED, "", "")
    assert [(p["from"], p["state"]) for _, p in sent if p["type"] == "item.decided"] == [(ItemState.EXCLUDED, ItemState.QUEUED)]
    undo = AuditEvent.objects.get(verb="curation.undo", object_id=str(item.pk))
    assert (undo.before, undo.after["state"], undo.after["curation"]) == ({"state": "excluded", "curation": "excluded"}, "queued", "")


def test_a_reviewer_cannot_bring_back_what_curation_did_not_take_out(ready):
    """Curation's undo restores only its own exclusions: an item a reviewer excluded stays out."""
    (item,) = add_items(ready.project, 1)
    transitions.items_exclude(
        project=ready.project, item_ids=[item.pk], why=transitions.Why(verb="review.excluded", actor=ready.reviewer),
        reason="broken", notice="gone", now=item.created_at,
    )  # fmt: skip
    curation_services.curation_decide(project=ready.project, actor=ready.admin, item_ids=[item.pk], decision="exclude")
    curation_services.curation_decide(project=ready.project, actor=ready.admin, item_ids=[item.pk], decision="undo")
    assert Item.objects.get(pk=item.pk).state == ItemState.EXCLUDED


def test_suspension_revokes_leases_through_the_same_door(ready, sent, django_capture_on_commit_callbacks):
    from consensus.annotators.services import annotator_suspend
    from tests.factories import voter_id

    a, b = add_items(ready.project, 2)
    (holder,) = annotators(ready, 1)
    first = labeling.item_lease_next(project=ready.project, annotator=holder)
    second = labeling.item_lease_next(project=ready.project, annotator=holder, exclude=(first.item_id,))
    with django_capture_on_commit_callbacks(execute=True):
        result = annotator_suspend(project=ready.project, actor=ready.admin, reason="spam", voter_id=voter_id(ready.project, holder))
    assert result.leases_released == 2
    assert list(Item.objects.filter(pk__in=[a.pk, b.pk]).values_list("leased_count", flat=True)) == [0, 0]
    assert [sorted(p["items"]) for _, p in sent if p["type"] == "lease.revoked"] == [sorted([first.item_id, second.item_id])]


# --- one writer ---------------------------------------------------------------------------------

FIELDS = {"state", "votes_count", "leased_count", "extra_votes", "excluded_from"}
SQL_WRITE = re.compile(
    r"\bSET\b[^;]*?\b(?:state|votes_count|leased_count|extra_votes|excluded_from)\s*=|\bSET\s+status\s*=", re.IGNORECASE
)
OWNER = "annotation/items/transitions.py"


def _string_of(node: ast.AST, source: str) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return ast.get_source_segment(source, node)
    return None


def writes_of(source: str) -> list[str]:
    """Each place in ``source`` that writes an item's state or lease counters, or a lease's
    status: ``.update(state=…)``, ``bulk_update``/``update_rows`` naming such a field, an
    assignment to ``x.state``/``x.votes_count``/… or ``x.status = LeaseStatus.…``, and SQL
    ``SET votes_count = …`` / ``SET status = …``. Creating an item (its first state) is not a move."""
    tree = ast.parse(source)
    found = []
    strings_in_joined = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "update":
                for kw in node.keywords:
                    if kw.arg in FIELDS:
                        found.append(f"{where}: .update({kw.arg}=…)")
                    if kw.arg == "status" and "LeaseStatus" in ast.unparse(kw.value):
                        found.append(f"{where}: .update(status=LeaseStatus…)")
            if name == "bulk_update" or name.endswith("update_rows"):
                named = {c.value for a in node.args for c in ast.walk(a) if isinstance(c, ast.Constant)}
                if named & FIELDS:
                    found.append(f"{where}: {name} of {sorted(named & FIELDS)}")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            flat = [t for target in targets for t in ast.walk(target)]
            for t in flat:
                if isinstance(t, ast.Attribute) and t.attr in FIELDS:
                    found.append(f"{where}: assigns .{t.attr}")
                if isinstance(t, ast.Attribute) and t.attr == "status" and "LeaseStatus" in ast.unparse(node.value):
                    found.append(f"{where}: assigns .status = LeaseStatus…")
        if id(node) in strings_in_joined:
            continue
        text = _string_of(node, source)
        if text is not None and SQL_WRITE.search(text):
            found.append(f"{where}: SQL {SQL_WRITE.search(text).group(0)!r}")
    return found


def _modules():
    for app in ("annotation", "consensus"):
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" not in rel and rel != OWNER:
                yield rel, path.read_text()


def test_no_module_but_transitions_writes_item_state_or_lease_counters():
    offenders = {rel: w for rel, source in _modules() if (w := writes_of(source))}
    assert offenders == {}


def test_the_owner_is_where_the_writes_are():
    """The walk finds the writes in transitions.py itself, so it looks in the right places."""
    found = "\n".join(writes_of((ROOT / OWNER).read_text()))
    for kind in ("update(state=", "update(leased_count=", "update(votes_count=", "update(status=LeaseStatus",
                 "SET votes_count", "SET status", "assigns .status = LeaseStatus"):  # fmt: skip
        assert kind in found, kind


@pytest.mark.parametrize(
    "planted",
    [
        'Item.objects.filter(pk=1).update(state="excluded")',
        'Item.objects.filter(pk=1).update(leased_count=F("leased_count") - 1)',
        "Item.objects.filter(pk=1).update(votes_count=F('votes_count') + 1, priority=2)",
        'Item.objects.filter(pk=1).update(extra_votes=2)',
        'Item.objects.bulk_update(items, ["state"])',
        '_update_rows(Item, ["state", "curation"], rows)',
        "item.state = ItemState.EXCLUDED",
        "item.leased_count += 1",
        "lease.status = LeaseStatus.RELEASED",
        'Lease.objects.filter(pk=1).update(status=LeaseStatus.EXPIRED, closed_at=now)',
        'cur.execute(f"UPDATE {table} SET votes_count = votes_count + 1 WHERE id = %s", [1])',
        'cur.execute("UPDATE annotation_item SET state = %s WHERE id = %s", ["queued", 1])',
        'cur.execute(f"UPDATE {_T.lease} SET status = %s WHERE id = %s", ["voted", 1])',
    ],
)
def test_a_planted_write_is_caught(planted):
    assert writes_of(planted)


@pytest.mark.parametrize(
    "allowed",
    [
        'Item.objects.create(project=p, state=ItemState.QUEUED, kind="text")',  # an item's first state
        'Item.objects.filter(state=ItemState.QUEUED).update(priority=1)',
        'draft.status = RulebookStatus.PUBLISHED',
        'Job.objects.filter(pk=1).update(status="done")',
        'x = item.state',
    ],
)
def test_reads_and_other_fields_are_not_writes(allowed):
    assert writes_of(allowed) == []
