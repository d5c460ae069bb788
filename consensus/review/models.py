"""Review cases: items a reviewer must decide, why, and how they were resolved."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.items.models import Item
from annotation.projects.models import Project


class ReviewReason(models.TextChoices):
    COLLAPSED = "collapsed", "Ground truth lost its support"
    CLAIM = "claim", "An annotator says it does not fit"
    UNSURE = "unsure", "An annotator was unsure"
    SPLIT = "split", "Votes split at the maximum"
    LOW_POSTERIOR = "low_posterior", "Consensus not confident enough"
    OTHER = "other", "Sent to review"


# Higher first in the review queue; ties go to the oldest.
REVIEW_PRIORITY = {
    ReviewReason.COLLAPSED: 50,
    ReviewReason.CLAIM: 40,
    ReviewReason.UNSURE: 30,
    ReviewReason.SPLIT: 20,
    ReviewReason.LOW_POSTERIOR: 10,
    ReviewReason.OTHER: 0,
}


class ReviewResolution(models.TextChoices):
    LABELED = "labeled", "Final label chosen"
    SENT_BACK = "sent_back", "Sent back for more votes"
    EXCLUDED = "excluded", "Excluded"
    REDECIDED = "redecided", "Decided again by the policy"


class ReviewCase(models.Model):
    """Why an item is in review, who holds it and how it ended. An item has at most one open
    case; a reviewer works on a case only while holding its claim (``claimed_by`` until
    ``claim_expires_at``), so two reviewers never decide the same item at once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="review_cases")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_cases")
    reason = models.CharField(max_length=20, choices=ReviewReason.choices)
    detail = models.CharField(max_length=300, blank=True)
    priority = models.SmallIntegerField(default=0)
    opened_at = models.DateTimeField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=12, choices=ReviewResolution.choices, blank=True)
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-priority", "opened_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(resolved_at__isnull=True), name="review_case_open_once"
            )
        ]
        indexes = [
            models.Index(
                "project", models.F("priority").desc(), "opened_at",
                condition=Q(resolved_at__isnull=True), name="review_case_queue",
            )
        ]

    def holder_id(self, now: dt.datetime) -> int | None:
        """The reviewer whose claim is live at ``now``, or None when the case is free."""
        if self.claimed_by_id is None or self.claim_expires_at is None or self.claim_expires_at <= now:
            return None
        return self.claimed_by_id
