"""Page forms: parse and show errors; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from annotation.items.models import ItemState
from annotation.projects.models import ItemKind, Project, QuestionType, Role
from annotation.projects.services import CURATION_RANGES, CURATION_SETTINGS

SETTINGS_FIELDS = [
    "min_votes", "max_votes", "promote_posterior", "promote_agreement", "gold_rate", "lease_seconds",
]  # fmt: skip
# Set after creation, on the settings page: review and quality.
LATER_FIELDS = ["review_unsure", "gold_feedback", "min_gold_accuracy"]


class ProjectCreateForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "slug", "description", "item_kind", "question_type", *SETTINGS_FIELDS]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"slug": "The start of the project's address (left empty, it is made from the name). A few random characters are added to it, so an address says nothing about other people's projects."}

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["item_kind"].choices = ItemKind.choices
        self.fields["question_type"].choices = QuestionType.choices

    def validate_unique(self) -> None:  # the service reports a taken slug
        pass


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description", *SETTINGS_FIELDS, *LATER_FIELDS]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class CurationThresholdsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = list(CURATION_SETTINGS)
        labels = {
            "near_duplicate_distance": "Near-duplicate distance (bits)",
            "blur_threshold": "Blurry below sharpness",
            "dark_threshold": "Under-exposed below brightness",
            "bright_threshold": "Over-exposed above brightness",
            "min_image_side": "Too small below (px, shorter side)",
            "min_text_chars": "Too short below (characters)",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each range on its own field: the browser shows it, and a value out of range is named
        # by its field instead of the model constraint's one sentence about all of them.
        for name, (low, high) in CURATION_RANGES.items():
            field = self.fields[name]
            if not any(isinstance(v, MinValueValidator) for v in field.validators):  # positive fields have one
                field.validators.append(MinValueValidator(low))
            field.widget.attrs["min"] = low
            if high is not None:
                field.validators.append(MaxValueValidator(high))
                field.widget.attrs["max"] = high


class ItemIdsField(forms.Field):
    """Item ids from repeated ``items`` inputs; the service checks they belong to the project."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, (list, tuple)) else ([value] if value else [])
        bad = [v for v in values if not str(v).isdigit()]
        if bad:
            raise forms.ValidationError(f"Not an item id: {bad[0]!r}.")
        return [int(v) for v in values]


class CurationDecisionForm(forms.Form):
    items = ItemIdsField(error_messages={"required": "Choose at least one item."})
    decision = forms.ChoiceField(choices=[(d, d) for d in ("keep", "exclude", "undo")])


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Only for a new account: the user is created with this password.",
    )


class MemberRoleForm(forms.Form):
    user_id = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(choices=Role.choices)


class RulebookForm(forms.Form):
    guidelines = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}), help_text="Markdown."
    )
    unclear_instructions = forms.CharField(
        label="What to do with unclear items", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    do_not_label = forms.CharField(
        label="What not to label at all", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    decision_path = forms.CharField(
        label="Decision path (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "loop: Is there a closed loop? | yes: eight | no: one"}),
        help_text="One yes/no question a line: “id: question? | yes: target | no: target”. "
        "A target is another question's id or a label key; the first line is where annotators start.",
    )
    change_note = forms.CharField(
        label="What changed (shown in the history)", required=False, max_length=500
    )
    based_on = forms.DateTimeField(required=False, widget=forms.HiddenInput)


class LabelForm(forms.Form):
    key = forms.CharField(max_length=50, required=False, help_text="a-z, 0-9, - and _")
    name = forms.CharField(max_length=200, required=False)
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    fits = forms.CharField(label="What fits", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    does_not_fit = forms.CharField(
        label="What does not fit", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    fit_examples = forms.CharField(
        label="Example items that fit", required=False, help_text="Item ids, comma separated."
    )
    nonfit_examples = forms.CharField(
        label="Example items that do not fit", required=False, help_text="Item ids, comma separated."
    )
    hotkey = forms.CharField(max_length=1, required=False, widget=forms.TextInput(attrs={"size": 2}))
    color = forms.CharField(
        label="Colour", max_length=7, required=False, widget=forms.TextInput(attrs={"type": "color"})
    )


LabelFormSet = forms.formset_factory(LabelForm, extra=0, can_delete=True)


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="JSONL, CSV, a text file with one item per line, a zip of images, or one image."
    )


class VotesImportForm(forms.Form):
    votes = forms.FileField(label="votes.csv", help_text="Columns item, annotator, label: one row a vote.")
    gold = forms.FileField(label="gold.csv (optional)", required=False, help_text="Columns item, label.")
    create_items = forms.BooleanField(
        label="Create items the project does not have yet", required=False,
        help_text="Otherwise rows naming an unknown item are reported.",
    )  # fmt: skip


class ItemFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "any state"), *ItemState.choices], required=False)
    meta_key = forms.CharField(label="metadata field", required=False, max_length=100)
    meta_value = forms.CharField(label="equals", required=False, max_length=500)
    q = forms.CharField(label="search", required=False, max_length=500)
    gold = forms.ChoiceField(
        choices=[("", "gold or not"), ("yes", "gold only"), ("no", "no gold")], required=False
    )
    flag = forms.ChoiceField(
        label="curation flag", required=False,
        choices=[("", "any"), ("near_duplicate", "near-duplicate"), ("blurry", "blurry"), ("dark", "under-exposed"),
                 ("bright", "over-exposed"), ("tiny", "too small"), ("empty", "empty text"), ("short", "too short")],
    )  # fmt: skip
    taken_from = forms.DateField(label="photo taken from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    taken_to = forms.DateField(label="taken until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_meta_key(self) -> str:
        key = self.cleaned_data["meta_key"].strip()
        if any(ord(c) < 32 for c in key):
            raise forms.ValidationError("A field name cannot contain control characters.")
        return key
