"""Ground truth and the estimates behind it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models import ExternalAnnotator, Item, Project, RulebookVersion


class GroundTruthSource(models.TextChoices):
    CONSENSUS = "consensus", "Consensus of votes"
    GOLD = "gold", "Gold label"
    REVIEW = "review", "Reviewer's decision"


class GroundTruth(models.Model):
    """A label an item was promoted to, with how it got there. Rows are never edited except to
    mark them withdrawn (``withdrawn_at``, with a reason and an audit event); an item has at
    most one current row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ground_truth")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="ground_truth")
    label = models.JSONField(help_text="A label key.")
    source = models.CharField(max_length=10, choices=GroundTruthSource.choices)
    method = models.CharField(max_length=30, blank=True)
    params = models.JSONField(default=dict, blank=True)
    posterior = models.FloatField(help_text="Posterior of the label when it was promoted.")
    distribution = models.JSONField(default=dict, blank=True, help_text="Posterior of every label.")
    agreement = models.FloatField(null=True, blank=True, help_text="Share of votes for the label.")
    votes = models.JSONField(default=list, blank=True, help_text="Ids of the votes used.")
    rulebook_version = models.ForeignKey(
        RulebookVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(withdrawn_at__isnull=True), name="ground_truth_current"
            )
        ]
        indexes = [models.Index(fields=["project", "decided_at"], name="ground_truth_project_time")]


class Estimate(models.Model):
    """The latest project-wide estimate of annotator reliability: what deciding one item after a
    vote uses. Replaced (a new row) by each re-estimation."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="estimates")
    method = models.CharField(max_length=30)
    params = models.JSONField(default=dict)
    labels = models.JSONField(help_text="Label keys in the order of the matrices.")
    class_prior = models.JSONField()
    default_confusion = models.JSONField(help_text="For annotators without an estimate yet.")
    votes = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    last_vote_id = models.BigIntegerField(default=0, help_text="Newest vote the estimate saw.")
    iterations = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(default=True)
    alpha = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "id"


class Reliability(models.Model):
    """One annotator's confusion matrix (true label × given label) in an estimate."""

    estimate = models.ForeignKey(Estimate, on_delete=models.CASCADE, related_name="reliabilities")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    external = models.ForeignKey(
        ExternalAnnotator, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    confusion = models.JSONField()
    accuracy = models.FloatField(help_text="Estimated probability of a right answer.")
    votes = models.PositiveIntegerField(default=0)
    agreement = models.FloatField(
        null=True, blank=True, help_text="Share of their votes that match the consensus label."
    )
    compared = models.PositiveIntegerField(default=0, help_text="Votes on items with a consensus label.")
    answers = models.JSONField(default=list, help_text="Their votes per label, in the estimate's label order.")
    weight = models.FloatField(default=1.0, help_text="Weight of their votes (below 1 when they err with others).")

    class Meta:
        indexes = [
            models.Index(fields=["estimate", "annotator"], name="reliability_annotator"),
            models.Index(fields=["estimate", "external"], name="reliability_external"),
        ]


class ReestimateRequest(models.Model):
    """At most one pending re-estimation per project: a vote that finds the estimate stale
    claims this row, so a burst of votes enqueues one task, not hundreds."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    pending = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)


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
