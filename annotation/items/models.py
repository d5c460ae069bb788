"""Items and their labeling state."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from annotation.curation.models import CurationDecision, DuplicateCluster
from annotation.imports.models import ImportJob
from annotation.projects.models import ItemKind, Project


class ItemState(models.TextChoices):
    QUEUED = "queued", "Queued"
    COMPLETE = "complete", "Complete"
    REVIEW = "review", "In review"
    GROUND_TRUTH = "ground_truth", "Ground truth"
    EXCLUDED = "excluded", "Excluded"


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=10, choices=ItemKind.choices)
    text = models.TextField(blank=True)
    image = models.CharField(max_length=500, blank=True, help_text="Storage name of the image.")
    thumbnail = models.CharField(max_length=500, blank=True, help_text="Storage name.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, help_text="sha256 of the text or image bytes.")
    metadata = models.JSONField(default=dict, blank=True)
    gold = models.JSONField(null=True, blank=True)
    state = models.CharField(max_length=15, choices=ItemState.choices, default=ItemState.QUEUED)
    priority = models.FloatField(default=0.0, help_text="Higher is labeled sooner (model uncertainty).")
    # Assignment counters, changed only under the item's row lock (see services.item_lease_next).
    votes_count = models.PositiveIntegerField(default=0, help_text="Annotators with a current vote.")
    leased_count = models.PositiveIntegerField(default=0, help_text="Active leases.")
    extra_votes = models.PositiveSmallIntegerField(
        default=0, help_text="Votes asked for beyond the project's min_votes (dynamic overlap)."
    )
    import_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    # Curation (annotation.curating): measures from the import, flags and clusters from a run.
    near_hash = models.BigIntegerField(
        null=True, blank=True, help_text="64-bit perceptual hash (images) or SimHash (texts), stored signed."
    )
    sharpness = models.FloatField(null=True, blank=True, help_text="Variance of the Laplacian at 512 px.")
    brightness = models.FloatField(null=True, blank=True, help_text="Mean grayscale brightness, 0–255.")
    colour_r = models.FloatField(null=True, blank=True, help_text="Mean chromaticity R/(R+G+B); empty for grayscale.")
    colour_g = models.FloatField(null=True, blank=True, help_text="Mean chromaticity G/(R+G+B); empty for grayscale.")
    flags = models.JSONField(default=dict, blank=True, help_text="{flag: measure}: near_duplicate, blurry, dark, bright, tiny, empty, short.")
    cluster = models.ForeignKey(
        DuplicateCluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    cluster_distance = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Bits from the representative.")
    curation = models.CharField(max_length=10, choices=CurationDecision.choices, blank=True, default="")
    excluded_from = models.CharField(
        max_length=15, blank=True, default="", help_text="The state before curation excluded it, to restore."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=~Q(external_id=""),
                name="item_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["project", "content_hash"], name="item_content_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state"], name="item_project_state"),
            # The queue's order, for the items still open.
            models.Index(
                "project", models.F("votes_count").desc(), models.F("priority").desc(), "id",
                condition=Q(state="queued"), name="item_queue_order",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or f"item {self.pk}"
