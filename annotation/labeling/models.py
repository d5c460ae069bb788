"""Leases, votes and the external annotators of imported votes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.items.models import Item
from annotation.projects.models import Project
from annotation.rulebook.models import RulebookVersion


class LeaseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    VOTED = "voted", "Voted"
    SKIPPED = "skipped", "Skipped"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"


# Leases that keep an item away from the same annotator for good or for now: the one they
# hold, the ones they voted on, and the ones they skipped.
LEASES_EXCLUDING_ITEM = (LeaseStatus.ACTIVE, LeaseStatus.VOTED, LeaseStatus.SKIPPED)


class Lease(models.Model):
    """An item handed to one annotator until ``expires_at``; a heartbeat extends it.

    While ``active`` it counts against the votes the item still needs (``Item.leased_count``).
    ``voted`` and ``skipped`` leases also keep the item away from that annotator for good.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="leases")
    # No index of its own: (annotator, item) below serves it. A lone annotator index tempted
    # PostgreSQL, on a young table, into scanning all of an annotator's leases per candidate item.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    rulebook_version = models.ForeignKey(RulebookVersion, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=LeaseStatus.choices, default=LeaseStatus.ACTIVE)
    is_gold = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["annotator", "item"], name="lease_annotator_item"),
            models.Index(
                fields=["project", "expires_at"],
                condition=Q(status="active"),
                name="lease_active_expiry",
            ),
        ]


class Claim(models.TextChoices):
    NONE = "", "—"
    NO_FIT = "no_fit", "Does not fit any label"
    DO_NOT_LABEL = "do_not_label", "Should not be labeled"


class VoteKind(models.TextChoices):
    VOTE = "vote", "Vote"
    RETRACT = "retract", "Retraction (undo)"


class ExternalAnnotator(models.Model):
    """Someone who labeled outside Quorum — a crowd worker or another tool's user — whose votes
    were imported. An identity within one project, not a login."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="external_annotators")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="external_annotator_unique")]

    def __str__(self) -> str:
        return self.name


class Vote(models.Model):
    """Append-only. A correction or an undo is a new row that ``supersedes`` the old one;
    a vote's current value is that of the newest vote in its chain. Cast by a member
    (``annotator``) or imported from elsewhere (``external``), never both."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="votes")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="votes")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    external = models.ForeignKey(
        ExternalAnnotator, null=True, blank=True, on_delete=models.CASCADE, related_name="votes"
    )
    rulebook_version = models.ForeignKey(RulebookVersion, on_delete=models.PROTECT, related_name="+")
    lease = models.ForeignKey(Lease, null=True, blank=True, on_delete=models.SET_NULL, related_name="votes")
    kind = models.CharField(max_length=10, choices=VoteKind.choices, default=VoteKind.VOTE)
    value = models.JSONField(null=True, blank=True, help_text="A label key, or a list for multiple choice.")
    unsure = models.BooleanField(default=False)
    claim = models.CharField(max_length=15, choices=Claim.choices, blank=True, default="")
    claim_reason = models.TextField(blank=True)
    note = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(default=0)
    client_id = models.CharField(max_length=64, help_text="Idempotency key from the client.")
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "client_id"], name="vote_idempotency"),
            models.UniqueConstraint(
                fields=["external", "item"], condition=Q(kind="vote"), name="vote_external_once"
            ),
            models.CheckConstraint(
                condition=Q(annotator__isnull=False, external__isnull=True)
                | Q(annotator__isnull=True, external__isnull=False),
                name="vote_one_voter",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "annotator", "created_at"], name="vote_annotator_time"),
            models.Index(fields=["project", "created_at"], name="vote_project_time"),  # the dashboard's hours
            models.Index(fields=["item", "annotator"], name="vote_item_annotator"),
        ]

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # An integrity rule, not business logic: votes are append-only.
        if self.pk is not None and not self._state.adding:
            raise ValueError("Votes are append-only; cast a new vote that supersedes this one.")
        super().save(*args, **kwargs)
