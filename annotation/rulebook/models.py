"""Rulebook versions (draft, published) and the clarification notes annotators leave."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.projects.models import Project


class RulebookStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class RulebookVersion(models.Model):
    """One version of a project's labeling rules.

    The labels are kept as a list of dicts in ``labels`` (key, name, definition, fits,
    does_not_fit, fit_examples, nonfit_examples, hotkey, color): a published version is an
    immutable document, and versions are compared as documents. ``number`` is set on publish.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rulebook_versions")
    status = models.CharField(
        max_length=10, choices=RulebookStatus.choices, default=RulebookStatus.DRAFT
    )
    number = models.PositiveIntegerField(null=True, blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown.")
    unclear_instructions = models.TextField(blank=True)
    do_not_label = models.TextField(blank=True)
    labels = models.JSONField(default=list)
    decision_path = models.JSONField(default=list, blank=True)
    change_note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["project", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="rulebook_number_unique"),
            models.UniqueConstraint(
                fields=["project"], condition=Q(status="draft"), name="rulebook_one_draft"
            ),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number__isnull=True))
                | (Q(status="published") & Q(number__isnull=False)),
                name="rulebook_number_iff_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} rulebook " + (f"v{self.number}" if self.number else "draft")

    @property
    def is_published(self) -> bool:
        return self.status == RulebookStatus.PUBLISHED

    @property
    def label_keys(self) -> list[str]:
        return [lab["key"] for lab in self.labels]


class ClarificationNote(models.Model):
    """A reviewer's "this label needs clarifying" note, shown to admins beside the label in the
    rulebook draft until one of them marks it resolved."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="clarification_notes")
    label_key = models.CharField(max_length=60)
    text = models.TextField()
    item = models.ForeignKey("Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
