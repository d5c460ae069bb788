"""Input validation and output shapes. No business logic: services decide."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.utils import html

from annotation.imports.models import ImportJob
from annotation.items.models import Item, ItemState
from annotation.projects.models import AuditEvent, ItemKind, Membership, Project, QuestionType, Role
from annotation.rulebook.models import RulebookVersion


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id", "name", "slug", "description", "item_kind", "question_type",
            "min_votes", "max_votes", "promote_posterior", "promote_agreement",
            "gold_rate", "lease_seconds", "review_unsure", "gold_feedback", "min_gold_accuracy", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ProjectListSerializer(ProjectSerializer):
    role = serializers.CharField(read_only=True)

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "role"]
        read_only_fields = fields


ItemId = lambda **kw: serializers.IntegerField(min_value=1, max_value=2**63 - 1, **kw)  # noqa: E731


class Boolean(serializers.BooleanField):
    """`true` or `false` and nothing else (DRF alone would take 0, 1, "yes", "y" or "on" too); in a
    form, where every value is text, the words `true` or `false`."""

    FORM_VALUES = {"true": True, "false": False}

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and html.is_html_input(getattr(self.root, "initial_data", None)):
            if data.lower() in self.FORM_VALUES:
                return self.FORM_VALUES[data.lower()]
        self.fail("invalid", input=data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo or a read-only field is not silently ignored; and,
    in a form, an empty value where JSON could not send an empty string (DRF would read it as if the
    field were left out, and take the default)."""

    def validate(self, attrs: dict) -> dict:
        data = getattr(self, "initial_data", None) or {}
        errors = {name: "This field cannot be set here." for name in sorted(set(data) - set(self.fields))}
        if html.is_html_input(data):
            errors |= {
                name: "This field may not be blank."
                for name, field in self.fields.items()
                if data.get(name) == "" and not getattr(field, "allow_blank", False) and not field.allow_null
            }
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ProjectSettingsSerializer(StrictSerializer):
    """The settings an admin may change after creation; all optional."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    min_votes = serializers.IntegerField(min_value=1, max_value=50, required=False)
    max_votes = serializers.IntegerField(min_value=1, max_value=50, required=False)
    promote_posterior = serializers.FloatField(min_value=0, max_value=1, required=False)
    promote_agreement = serializers.FloatField(min_value=0, max_value=1, required=False)
    gold_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    lease_seconds = serializers.IntegerField(min_value=10, max_value=86400, required=False)
    review_unsure = Boolean(required=False)
    gold_feedback = Boolean(required=False)
    min_gold_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False)


class ProjectCreateSerializer(ProjectSettingsSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=60, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    item_kind = serializers.ChoiceField(choices=ItemKind.choices, default=ItemKind.IMAGE)
    question_type = serializers.ChoiceField(choices=QuestionType.choices, default=QuestionType.SINGLE)


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]
        read_only_fields = fields


class MemberAddSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    password = serializers.CharField(required=False, allow_blank=True, default="", write_only=True)


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class LabelSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=50, allow_blank=True)
    name = serializers.CharField(max_length=200, allow_blank=True)
    definition = serializers.CharField(allow_blank=True, required=False, default="")
    fits = serializers.CharField(allow_blank=True, required=False, default="")
    does_not_fit = serializers.CharField(allow_blank=True, required=False, default="")
    fit_examples = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list)
    nonfit_examples = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list)
    hotkey = serializers.CharField(max_length=1, allow_blank=True, required=False, default="")
    color = serializers.CharField(max_length=7, allow_blank=True, required=False, default="")


class DecisionNodeSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=50)
    question = serializers.CharField(max_length=500)
    yes = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=50, help_text="A question id or a label key.")
    no = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]*$", max_length=50, help_text="A question id or a label key.")


class RulebookSerializer(serializers.ModelSerializer):
    labels = LabelSerializer(many=True)
    decision_path = DecisionNodeSerializer(many=True)
    published_by = serializers.CharField(source="published_by.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = RulebookVersion
        fields = [
            "number", "status", "guidelines", "unclear_instructions", "do_not_label",
            "labels", "decision_path", "change_note", "published_at", "published_by", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class RulebookDraftInSerializer(StrictSerializer):
    guidelines = serializers.CharField(allow_blank=True, required=False, default="")
    unclear_instructions = serializers.CharField(allow_blank=True, required=False, default="")
    do_not_label = serializers.CharField(allow_blank=True, required=False, default="")
    labels = LabelSerializer(many=True)
    decision_path = DecisionNodeSerializer(many=True, required=False, default=list, help_text="Yes/no questions; the first is the start.")
    change_note = serializers.CharField(allow_blank=True, required=False, default="", max_length=500)
    based_on = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="The draft's updated_at when you read it; if it was saved since, 409 instead of overwriting.",
    )


class RulebookDraftOutSerializer(serializers.Serializer):
    draft = RulebookSerializer()
    problems = serializers.ListField(child=serializers.DictField(), help_text="What would stop publishing.")


class PublishSerializer(serializers.Serializer):
    change_note = serializers.CharField(allow_blank=True, required=False, default="", max_length=500)


class ItemSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = [
            "id", "external_id", "kind", "text", "image_url", "thumbnail_url", "width", "height",
            "content_hash", "metadata", "gold", "state", "created_at",
            "flags", "cluster", "cluster_distance", "curation", "sharpness", "brightness",
        ]  # fmt: skip
        read_only_fields = fields

    def _url(self, obj: Item, which: str) -> str | None:
        if not getattr(obj, which):
            return None
        return f"/p/{self.context['slug']}/items/{obj.pk}/{which}"

    def get_image_url(self, obj: Item) -> str | None:
        return self._url(obj, "image")

    def get_thumbnail_url(self, obj: Item) -> str | None:
        return self._url(obj, "thumbnail")


class ItemQuerySerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ItemState.choices, required=False)
    meta_key = serializers.RegexField(r"^[^\x00-\x1f]{1,100}$", required=False, help_text="A metadata key; with meta_value, items whose value (as text) equals it.")
    meta_value = serializers.CharField(required=False, max_length=500)
    q = serializers.CharField(required=False, max_length=500)
    gold = serializers.ChoiceField(choices=["yes", "no"], required=False)


class ImportJobSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = ImportJob
        fields = [
            "id", "source_name", "format", "status", "total", "created", "skipped", "failed",
            "errors", "skipped_rows", "message", "created_by", "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A .jsonl, .csv, .txt, .zip or image file. The format comes from the extension."
    )
    background = Boolean(
        required=False, allow_null=True, default=None,
        help_text=(
            "true: run as a background task. Otherwise an import runs within the request only if it reads at most "
            "QUORUM_IMPORT_INLINE_BYTES (2 MB; a zip counts by its uncompressed size), else in the background."
        ),
    )  # fmt: skip


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "actor", "verb", "object_type", "object_id", "before", "after", "created_at"]
        read_only_fields = fields


class CurationDecisionSerializer(StrictSerializer):
    items = serializers.ListField(child=ItemId(), allow_empty=False, max_length=5000)
    decision = serializers.ChoiceField(choices=["keep", "exclude", "undo"])


class CurationMemberSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="pk")
    distance = serializers.IntegerField(source="cluster_distance")

    class Meta:
        model = Item
        fields = ["item", "external_id", "distance", "flags", "state", "curation"]
        read_only_fields = fields
