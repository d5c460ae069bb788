"""Voters: every identity that votes in a project, whatever it is.

One row per identity, so votes, reliabilities and quality figures name one thing and the
aggregator weighs people, imported annotators, rules and models by the same model:

- ``member``: a user of the project (``user``); created with the membership and kept when the
  membership ends, so a member who leaves and comes back is the same voter, with their votes;
- ``external``: someone who labeled outside Quorum, whose votes were imported (``name`` is the
  annotator column of ``votes.csv``); an identity within the project, never a login;
- ``rule`` and ``model``: reserved for labeling rules and model versions (issues to come); no
  code creates them yet.

A suspended voter gets no new items, cannot vote, and their votes stop counting
(``consensus.annotators``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.projects.models import Project


class VoterKind(models.TextChoices):
    MEMBER = "member", "Member"
    EXTERNAL = "external", "Imported annotator"
    RULE = "rule", "Labeling rule"  # reserved: no code creates one yet
    MODEL = "model", "Model"  # reserved: no code creates one yet


IMPORTED_MARK = " (imported)"


class Voter(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="voters")
    kind = models.CharField(max_length=10, choices=VoterKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True, help_text="An imported annotator's name; empty for a member.")
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suspended_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"], condition=Q(user__isnull=False), name="voter_member_once"
            ),
            models.UniqueConstraint(
                fields=["project", "name"], condition=Q(kind="external"), name="voter_external_once"
            ),
            models.CheckConstraint(
                condition=Q(kind="member", user__isnull=False) | (~Q(kind="member") & Q(user__isnull=True)),
                name="voter_member_has_user",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"voter {self.pk}"


def display_name(*, kind: str, username: str | None, name: str) -> str:
    """How a voter is named to admins and reviewers: a member's username, an imported
    annotator's name marked as imported."""
    if kind == VoterKind.MEMBER:
        return username or ""
    if kind == VoterKind.EXTERNAL:
        return f"{name}{IMPORTED_MARK}"
    return name
