"""Ground truth and the estimates behind it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.items.models import Item
from annotation.projects.models import Project
from annotation.rulebook.models import RulebookVersion
from annotation.voters.models import Voter


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
    """One voter's confusion matrix (true label × given label) in an estimate."""

    estimate = models.ForeignKey(Estimate, on_delete=models.CASCADE, related_name="reliabilities")
    voter = models.ForeignKey(Voter, on_delete=models.CASCADE, related_name="+")
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
        indexes = [models.Index(fields=["estimate", "voter"], name="reliability_voter")]


class ReestimateRequest(models.Model):
    """At most one pending re-estimation per project: a vote that finds the estimate stale
    claims this row, so a burst of votes enqueues one task, not hundreds."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    pending = models.BooleanField(default=False)
    requested_at = models.DateTimeField(null=True, blank=True)
