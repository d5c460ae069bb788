"""The pure rulebook module: validation messages and version comparison."""

from annotation.rulebook import document as rb


def norm(*labels):
    return [rb.normalize_label(lab, i) for i, lab in enumerate(labels)]


def test_a_valid_rulebook_has_no_errors():
    labels = norm(
        {"key": "cat", "name": "Cat", "definition": "A cat.", "hotkey": "c"},
        {"key": "dog", "name": "Dog", "definition": "A dog.", "hotkey": "d"},
    )
    assert rb.validate_labels(labels) == []
    assert labels[0]["color"] == rb.PALETTE[0] and labels[1]["color"] == rb.PALETTE[1]


def test_duplicate_hotkeys_name_both_labels():
    labels = norm(
        {"key": "cat", "name": "Cat", "definition": "A cat.", "hotkey": "x"},
        {"key": "dog", "name": "Dog", "definition": "A dog.", "hotkey": "X"},
    )
    errors = rb.validate_labels(labels)
    assert [(e.label, e.field) for e in errors] == [(1, "hotkey")]
    assert errors[0].message == "Hotkey 'x' is already used by label 1."


def test_duplicate_keys_and_too_few_labels_and_missing_fields():
    assert rb.validate_labels(norm({"key": "a", "name": "A", "definition": "d"}))[0].message.startswith(
        "A rulebook needs at least 2 labels"
    )
    errors = rb.validate_labels(
        norm({"key": "Cat", "name": "Cat", "definition": "x"}, {"key": "cat", "name": "", "definition": ""})
    )
    assert {(e.label, e.field) for e in errors} == {(1, "key"), (1, "name"), (1, "definition")}


def test_bad_key_hotkey_and_colour_are_explained():
    errors = rb.validate_labels(
        norm(
            {"key": "has space", "name": "A", "definition": "d", "hotkey": "ab", "color": "red"},
            {"key": "b", "name": "B", "definition": "d"},
        )
    )
    fields = {e.field: e.message for e in errors}
    assert "lower-case letters" in fields["key"]
    assert fields["hotkey"] == "A hotkey is one letter or digit."
    assert fields["color"] == "A colour is written #rrggbb."


def test_examples_given_as_text_become_lists():
    (label,) = norm({"key": "a", "fit_examples": "x1, x2  x3", "nonfit_examples": ""})
    assert label["fit_examples"] == ["x1", "x2", "x3"] and label["nonfit_examples"] == []


def doc(definition="A cat.", extra=()):
    return {
        "guidelines": "Label animals.",
        "unclear_instructions": "",
        "do_not_label": "",
        "labels": norm({"key": "cat", "name": "Cat", "definition": definition}, {"key": "dog", "name": "Dog", "definition": "A dog."}, *extra),
    }


def test_diff_highlights_the_changed_words_of_a_definition():
    d = rb.diff(doc("A small cat."), doc("A large cat, indoors."))
    assert d.top == [] and not d.order_changed
    (change,) = d.labels
    assert (change.key, change.status) == ("cat", "changed")
    (field,) = change.changes
    assert field.field == "definition"
    assert [(s.op, s.text) for s in field.segments] == [
        ("same", "A "),
        ("del", "small"),
        ("add", "large"),
        ("same", " "),
        ("del", "cat."),
        ("add", "cat, indoors."),
    ]


def test_diff_reports_added_and_removed_labels_and_top_fields():
    old = doc()
    new = doc(extra=({"key": "bird", "name": "Bird", "definition": "A bird."},))
    new["guidelines"] = "Label animals carefully."
    new["labels"] = [lab for lab in new["labels"] if lab["key"] != "dog"]
    d = rb.diff(old, new)
    assert [c.field for c in d.top] == ["guidelines"]
    assert {(c.key, c.status) for c in d.labels} == {("bird", "added"), ("dog", "removed")}
    assert rb.diff(old, old).is_empty
