"""Drafts, publishing, immutability, members and the audit log."""

import pytest

from annotation.exceptions import Conflict, ValidationFailed
from annotation.projects import selectors as projects_selectors
from annotation.projects import services as projects_services
from annotation.projects.models import AuditEvent, Role
from annotation.rulebook import selectors as rulebook_selectors
from annotation.rulebook import services as rulebook_services
from annotation.rulebook.models import RulebookVersion
from tests.conftest import labels, publish


def test_publish_numbers_versions_and_keeps_old_ones_unchanged(team):
    v1 = publish(team, "cat", "dog")
    assert (v1.number, v1.status) == (1, "published")
    draft = rulebook_services.rulebook_draft_get_or_create(project=team.project)
    assert draft.pk != v1.pk and draft.labels == v1.labels  # the draft starts as a copy
    changed = labels("cat", "dog")
    changed[0]["definition"] = "It is a small cat."
    rulebook_services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="",
                                 do_not_label="", labels=changed)  # fmt: skip
    v2 = rulebook_services.rulebook_publish(actor=team.admin, project=team.project, change_note="cats are small")
    v1.refresh_from_db()
    assert v1.labels[0]["definition"] == "It is a cat."
    assert (v2.number, v2.labels[0]["definition"], v2.change_note) == (2, "It is a small cat.", "cats are small")
    assert rulebook_selectors.rulebook_current(project=team.project).pk == v2.pk
    assert list(AuditEvent.objects.filter(project=team.project, verb="rulebook.publish").values_list("after__labels__0__definition", flat=True).order_by("id")) == ["It is a cat.", "It is a small cat."]


def test_publishing_an_unchanged_draft_is_refused(team):
    publish(team, "cat", "dog")
    rulebook_services.rulebook_draft_get_or_create(project=team.project)
    with pytest.raises(Conflict, match="same as v1"):
        rulebook_services.rulebook_publish(actor=team.admin, project=team.project)


def test_duplicate_hotkeys_keep_the_draft_and_refuse_to_publish(team):
    bad = labels("cat", "dog")
    bad[1]["hotkey"] = "1"
    draft, problems = rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project, guidelines="keep me", unclear_instructions="",
        do_not_label="", labels=bad,
    )  # fmt: skip
    assert problems == [{"label": 1, "field": "hotkey", "message": "Hotkey '1' is already used by label 1."}]
    assert RulebookVersion.objects.get(pk=draft.pk).guidelines == "keep me"  # nothing typed is lost
    with pytest.raises(ValidationFailed) as exc:
        rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
    assert exc.value.errors == problems
    assert not team.project.rulebook_versions.filter(status="published").exists()


def test_examples_must_name_items_of_the_project(team):
    with_examples = labels("cat", "dog")
    with_examples[0]["fit_examples"] = ["nope-1"]
    _, problems = rulebook_services.rulebook_draft_save(
        actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="",
        labels=with_examples,
    )  # fmt: skip
    assert problems == [{"label": 0, "field": "fit_examples", "message": "No item with id 'nope-1'."}]


def test_members_roles_and_the_last_admin(team):
    assert projects_selectors.access_project(user=team.reviewer, slug=team.project.slug).role == Role.REVIEWER
    projects_services.member_set_role(actor=team.admin, project=team.project, user_id=team.reviewer.pk, role=Role.ADMIN)
    projects_services.member_remove(actor=team.admin, project=team.project, user_id=team.reviewer.pk)
    with pytest.raises(Conflict, match="at least one admin"):
        projects_services.member_set_role(actor=team.admin, project=team.project, user_id=team.admin.pk, role=Role.ANNOTATOR)
    with pytest.raises(Conflict, match="already a member"):
        projects_services.member_add(actor=team.admin, project=team.project, username=team.annotator.username, role=Role.ADMIN)
    with pytest.raises(ValidationFailed, match="There is no user 'ghost'"):
        projects_services.member_add(actor=team.admin, project=team.project, username="ghost", role=Role.ANNOTATOR)
    m = projects_services.member_add(actor=team.admin, project=team.project, username="newbie", role=Role.ANNOTATOR, password="long-enough-pw")
    assert m.user.check_password("long-enough-pw")
    verbs = list(AuditEvent.objects.filter(project=team.project).order_by("id").values_list("verb", flat=True))
    assert verbs[-4:] == ["member.role", "member.remove", "user.create", "member.add"]


def test_audit_events_cannot_be_edited(team):
    event = AuditEvent.objects.filter(project=team.project).first()
    event.verb = "tampered"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_project_settings_are_validated_and_audited(team):
    with pytest.raises(ValidationFailed) as exc:
        projects_services.project_update(actor=team.admin, project=team.project, min_votes=4, max_votes=3)
    assert exc.value.errors == [{"field": "max_votes", "message": "Max votes cannot be below min votes."}]
    projects_services.project_update(actor=team.admin, project=team.project, max_votes=7)
    event = AuditEvent.objects.filter(project=team.project, verb="project.update").get()
    assert (event.before, event.after) == ({"max_votes": 5}, {"max_votes": 7})
