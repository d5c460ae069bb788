"""Projects, members, rulebook versions, items, imports and the audit log.

Models hold fields, constraints and cheap properties only; writes live in ``services.py``
and reads in ``selectors.py``.
"""

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
    created_at = models.DateTimeField(auto_now_add=True)
    # Suspended: no new items, and their votes stop counting (see consensus.annotators).
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


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


class ItemState(models.TextChoices):
    QUEUED = "queued", "Queued"
    COMPLETE = "complete", "Complete"
    REVIEW = "review", "In review"
    GROUND_TRUTH = "ground_truth", "Ground truth"
    EXCLUDED = "excluded", "Excluded"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_name = models.CharField(max_length=500)
    source_path = models.CharField(max_length=1000, help_text="Stored upload or local path.")
    delete_source = models.BooleanField(default=True)
    format = models.CharField(max_length=10)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total = models.PositiveIntegerField(default=0, help_text="Rows or files seen so far.")
    created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="[{row, field, reason}] for each bad row.")
    skipped_rows = models.JSONField(default=list, help_text="[{row, reason}] for skipped rows.")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


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
