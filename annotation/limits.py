"""Size caps on what people type or import, and the checks that name the field over its cap.

Pure: no Django. The services check them (so the API, the forms and the command line all get
the same answer); the import readers use ``metadata_errors`` for each row's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_DESCRIPTION_CHARS = 5_000
MAX_GUIDELINES_CHARS = 50_000  # guidelines, unclear_instructions, do_not_label: each
MAX_LABELS = 100
MAX_LABEL_TEXT_CHARS = 5_000  # a label's definition, what fits, what does not fit: each
MAX_LABEL_EXAMPLES = 50  # example items per label, fitting and not fitting: each
MAX_DECISION_PATH_STEPS = 100
MAX_METADATA_KEYS = 100
MAX_METADATA_KEY_CHARS = 200
MAX_METADATA_VALUE_CHARS = 10_000  # a value as JSON text (strings, numbers, nested lists and objects)

RULEBOOK_TEXTS = ("guidelines", "unclear_instructions", "do_not_label")
LABEL_TEXTS = ("definition", "fits", "does_not_fit")


def too_long(field: str, text: str, cap: int) -> dict[str, Any] | None:
    """An error naming ``field`` if ``text`` is longer than ``cap`` characters."""
    if len(text) <= cap:
        return None
    return {"field": field, "message": f"At most {cap:,} characters; this has {len(text):,}."}


def rulebook_errors(
    *, texts: Mapping[str, str], labels: list[Mapping[str, Any]], decision_path: list[Any]
) -> list[dict[str, Any]]:
    """Every cap a rulebook draft goes over: the three texts, the number of labels, each
    label's texts and examples (with ``label``, its index), and the decision path's length."""
    errors = [e for name in RULEBOOK_TEXTS if (e := too_long(name, texts.get(name) or "", MAX_GUIDELINES_CHARS))]
    if len(labels) > MAX_LABELS:
        errors.append({"field": "labels", "message": f"At most {MAX_LABELS} labels; this has {len(labels)}."})
    for index, label in enumerate(labels[:MAX_LABELS]):
        for name in LABEL_TEXTS:
            if e := too_long(name, str(label.get(name) or ""), MAX_LABEL_TEXT_CHARS):
                errors.append({"label": index, **e})
        for name in ("fit_examples", "nonfit_examples"):
            if len(label.get(name) or []) > MAX_LABEL_EXAMPLES:
                errors.append({"label": index, "field": name, "message": f"At most {MAX_LABEL_EXAMPLES} example items."})
    if len(decision_path) > MAX_DECISION_PATH_STEPS:
        errors.append({"field": "decision_path", "message": f"At most {MAX_DECISION_PATH_STEPS} questions; this has {len(decision_path)}."})
    return errors


def metadata_errors(metadata: Mapping[str, Any], *, field: str = "metadata") -> list[dict[str, Any]]:
    """Every cap an item's metadata goes over, each naming ``metadata.<key>`` (or ``metadata``
    for the number of keys). For the import readers: report the row, keep the others."""
    errors = []
    if len(metadata) > MAX_METADATA_KEYS:
        errors.append({"field": field, "message": f"At most {MAX_METADATA_KEYS} fields; this has {len(metadata)}."})
    for key, value in list(metadata.items())[:MAX_METADATA_KEYS]:
        if len(str(key)) > MAX_METADATA_KEY_CHARS:
            errors.append({"field": field, "message": f"A field name is longer than {MAX_METADATA_KEY_CHARS} characters."})
            continue
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if e := too_long(f"{field}.{key}", text, MAX_METADATA_VALUE_CHARS):
            errors.append(e)
    return errors
