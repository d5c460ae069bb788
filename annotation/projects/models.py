"""Projects, their members and roles, and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


# Higher rank can do everything a lower rank can.
ROLE_RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


class ItemKind(models.TextChoices):
    IMAGE = "image", "Image"
    TEXT = "text", "Text"


class QuestionType(models.TextChoices):
    SINGLE = "single", "Single choice"
    MULTI = "multi", "Multiple choice"


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    item_kind = models.CharField(max_length=10, choices=ItemKind.choices, default=ItemKind.IMAGE)
    question_type = models.CharField(
        max_length=10, choices=QuestionType.choices, default=QuestionType.SINGLE
    )
    # Consensus settings (see DESIGN.md, "The flow of one item").
    min_votes = models.PositiveSmallIntegerField(default=3)
    max_votes = models.PositiveSmallIntegerField(default=5)
    promote_posterior = models.FloatField(
        default=0.9, help_text="Posterior of the winning label needed to promote."
    )
    promote_agreement = models.FloatField(
        default=0.6, help_text="Share of votes for the winning label needed to promote."
    )
    gold_rate = models.FloatField(default=0.05, help_text="Share of assignments that are gold items.")
    lease_seconds = models.PositiveIntegerField(default=300)
    review_unsure = models.BooleanField(
        default=False, help_text="Send an item with an unsure vote to review instead of promoting it."
    )
    gold_feedback = models.BooleanField(
        default=False,
        help_text="After a gold item, show the annotator the right label and its rulebook entry.",
    )
    min_gold_accuracy = models.FloatField(
        default=0.6, help_text="Flag annotators whose accuracy on gold is credibly below this."
    )
    # Curation thresholds (see annotation.curation); changing one re-runs curation.
    near_duplicate_distance = models.PositiveSmallIntegerField(
        default=10, help_text="Items whose 64-bit hashes differ in at most this many bits are near-duplicates (0–11)."
    )
    blur_threshold = models.FloatField(
        default=60.0, help_text="Images whose sharpness (variance of the Laplacian at 512 px) is below this are flagged blurry."
    )
    dark_threshold = models.FloatField(default=40.0, help_text="Images darker than this mean brightness (0–255) are flagged.")
    bright_threshold = models.FloatField(default=220.0, help_text="Images brighter than this mean brightness (0–255) are flagged.")
    min_image_side = models.PositiveIntegerField(default=64, help_text="Images with a shorter side (pixels) are flagged tiny.")
    min_text_chars = models.PositiveIntegerField(default=10, help_text="Texts shorter than this (characters) are flagged.")
    current_rulebook = models.ForeignKey(
        "RulebookVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The published version in force; set by rulebook_publish.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_votes__gte=1) & Q(max_votes__gte=models.F("min_votes")),
                name="project_votes_range",
                violation_error_message="Max votes cannot be below min votes; min votes is at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(promote_posterior__gte=0, promote_posterior__lte=1)
                & Q(promote_agreement__gte=0, promote_agreement__lte=1)
                & Q(gold_rate__gte=0, gold_rate__lte=1)
                & Q(min_gold_accuracy__gte=0, min_gold_accuracy__lte=1),
                name="project_thresholds_range",
                violation_error_message="Thresholds and the gold rate are between 0 and 1.",
            ),
            models.CheckConstraint(
                condition=Q(near_duplicate_distance__lte=11)
                & Q(dark_threshold__gte=0, dark_threshold__lte=255)
                & Q(bright_threshold__gte=0, bright_threshold__lte=255)
                & Q(blur_threshold__gte=0),
                name="project_curation_range",
                violation_error_message=(
                    "The near-duplicate distance is 0–11 bits; brightness thresholds are 0–255; the blur threshold is at least 0."
                ),
            ),
            models.CheckConstraint(
                condition=Q(lease_seconds__gte=10),
                name="project_lease_min",
                violation_error_message="A lease lasts at least 10 seconds.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    # Who the member votes as (suspension lives there); read with the membership by the
    # access check. The voter outlives the membership: their votes stay theirs.
    voter = models.OneToOneField("Voter", on_delete=models.CASCADE, related_name="membership")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


class AuditEvent(models.Model):
    """Append-only record of every change a service makes: who, what, before and after."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=60)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time")]

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # An integrity rule, not business logic: the log is append-only.
        if self.pk is not None and not self._state.adding:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)
