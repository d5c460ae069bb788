"""Choice answers (single and multiple choice): what counts as a valid answer, decided once.

Labeling (``check_answer``), item import (``check_gold``), vote import and the reports
(``nominal_key``) call these; boxes and spans have their modules beside this one and raise the
same ``AnswerInvalid``. Pure: no Django.
"""

from __future__ import annotations

from typing import Any

CLAIMS = ("no_fit", "do_not_label")


class AnswerInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_answer(
    value: Any, claim: str, claim_reason: str, label_keys: list[str], *, multi: bool, version: int
) -> Any:
    """The normalized value of an answer under a rulebook version, or ``AnswerInvalid``.

    Single choice: one label key. Multiple choice: a list of distinct keys (may be empty only
    with a claim). A claim ("does not fit any label" / "should not be labeled") needs a reason
    and carries no label.
    """
    if claim:
        if claim not in CLAIMS:
            raise AnswerInvalid("claim", f"Unknown claim {claim!r}; use one of {', '.join(CLAIMS)}.")
        if not claim_reason.strip():
            raise AnswerInvalid("claim_reason", "Say why the item does not fit or should not be labeled.")
        if value not in (None, "", []):
            raise AnswerInvalid("value", "A claim carries no label; send either a label or a claim.")
        return None
    listed = ", ".join(label_keys)
    if multi:
        values = value if isinstance(value, list) else [value] if isinstance(value, str) and value else None
        if not values or not all(isinstance(v, str) for v in values):
            raise AnswerInvalid("value", "Choose at least one label (a list of label keys).")
        unknown = [v for v in values if v not in label_keys]
        if unknown:
            raise AnswerInvalid("value", f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not in rulebook v{version}; its labels are {listed}.")
        return sorted(set(values), key=label_keys.index)
    if not isinstance(value, str) or not value:
        raise AnswerInvalid("value", "Choose one label (a label key).")
    if value not in label_keys:
        raise AnswerInvalid("value", f"Label {value!r} is not in rulebook v{version}; its labels are {listed}.")
    return value


def check_gold(gold: Any, label_keys: list[str] | None, *, multi: bool, version: int | None) -> Any:
    """A known answer from an import as stored on the item: one key (single choice) or a list of
    keys (multiple choice); None when absent. ``label_keys`` None: no rulebook yet, keys are kept
    as given. Raises ``AnswerInvalid`` on field ``gold``."""
    if gold is None or gold == "":
        return None
    values = gold if isinstance(gold, list) else [gold]
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        raise AnswerInvalid("gold", "gold must be a label key, or a list of label keys for multiple choice")
    values = [str(v).strip() for v in values]
    if not multi and len(values) != 1:
        raise AnswerInvalid("gold", "this project is single choice; gold must be one label key")
    if label_keys is not None:
        unknown = [v for v in values if v not in label_keys]
        if unknown:
            raise AnswerInvalid(
                "gold", f"gold {', '.join(map(repr, unknown))} is not a label of rulebook v{version} ({', '.join(label_keys)})"
            )
    return values if multi else values[0]


def nominal_key(value: Any) -> str:
    """An answer as one nominal category: the label key, or the sorted keys joined by '+'."""
    if isinstance(value, list):
        return "+".join(sorted(str(v) for v in value))
    return str(value)
