"""Leases and votes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.items.models import Item
from annotation.projects.models import Project
from annotation.rulebook.models import RulebookVersion
from annotation.voters.models import Voter


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


class Vote(models.Model):
    """Append-only. A correction or an undo is a new row that ``supersedes`` the old one;
    a vote's current value is that of the newest vote in its chain. Cast by a ``voter``: a
    member through a lease, or an imported annotator (no lease)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="votes")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="votes")
    voter = models.ForeignKey(Voter, on_delete=models.CASCADE, related_name="votes")
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
            models.UniqueConstraint(fields=["voter", "client_id"], name="vote_idempotency"),
            # An imported vote (no lease) is one per voter and item; members may vote again after an undo.
            models.UniqueConstraint(
                fields=["voter", "item"], condition=Q(kind="vote", lease__isnull=True), name="vote_imported_once"
            ),
        ]
        indexes = [
            models.Index(fields=["voter", "created_at"], name="vote_voter_time"),
            models.Index(fields=["project", "created_at"], name="vote_project_time"),  # the dashboard's hours
            models.Index(fields=["item", "voter"], name="vote_item_voter"),
        ]

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # An integrity rule, not business logic: votes are append-only.
        if self.pk is not None and not self._state.adding:
            raise ValueError("Votes are append-only; cast a new vote that supersedes this one.")
        super().save(*args, **kwargs)
