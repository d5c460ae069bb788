"""Near-duplicate clusters and the keep/exclude decisions curation records."""

from __future__ import annotations

from django.db import models

from annotation.projects.models import Project


class DuplicateCluster(models.Model):
    """Items that are near-duplicates of each other (connected by near pairs), with the one
    to keep. Kept on the items so a dataset split can put a whole cluster on one side."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="duplicate_clusters")
    representative = models.ForeignKey("Item", on_delete=models.CASCADE, related_name="+")
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class CurationDecision(models.TextChoices):
    NONE = "", "Undecided"
    KEPT = "kept", "Kept"
    EXCLUDED = "excluded", "Excluded"
