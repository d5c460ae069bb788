"""Rulebook documents: validation and comparison. Pure Python, no Django.

A rulebook version is a document: top-level texts plus a list of labels, each a dict with
``key, name, definition, fits, does_not_fit, fit_examples, nonfit_examples, hotkey, color``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

LABEL_TEXT_FIELDS = ("name", "definition", "fits", "does_not_fit", "hotkey", "color")
LABEL_LIST_FIELDS = ("fit_examples", "nonfit_examples")
LABEL_FIELDS = ("key", *LABEL_TEXT_FIELDS, *LABEL_LIST_FIELDS)
TOP_FIELDS = ("guidelines", "unclear_instructions", "do_not_label", "decision_path")
FIELD_TITLES = {
    "guidelines": "Guidelines",
    "unclear_instructions": "Unclear items",
    "do_not_label": "Do not label",
    "decision_path": "Decision path",
    "key": "Key",
    "name": "Name",
    "definition": "Definition",
    "fits": "What fits",
    "does_not_fit": "What does not fit",
    "hotkey": "Hotkey",
    "color": "Colour",
    "fit_examples": "Examples that fit",
    "nonfit_examples": "Examples that do not fit",
}

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
HOTKEY_RE = re.compile(r"^[a-z0-9]$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
MIN_LABELS = 2


@dataclass(frozen=True)
class RulebookError:
    """One problem in a rulebook; ``label`` is the 0-based label row, or None for the rulebook."""

    field: str
    message: str
    label: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "field": self.field, "message": self.message}


def normalize_label(raw: dict[str, Any], index: int) -> dict[str, Any]:
    """Trim strings, lower-case key and hotkey, fill a default colour; keep unknown keys out."""
    label: dict[str, Any] = {}
    for name in ("key", *LABEL_TEXT_FIELDS):
        value = raw.get(name) or ""
        label[name] = str(value).strip()
    label["key"] = label["key"].lower()
    label["hotkey"] = label["hotkey"].lower()
    if not label["color"]:
        label["color"] = PALETTE[index % len(PALETTE)]
    for name in LABEL_LIST_FIELDS:
        value = raw.get(name) or []
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        label[name] = [str(v).strip() for v in value if str(v).strip()]
    return label


def validate_labels(labels: list[dict[str, Any]]) -> list[RulebookError]:
    """Every problem in a normalized label list; an empty list means it can be published."""
    errors: list[RulebookError] = []
    if len(labels) < MIN_LABELS:
        errors.append(
            RulebookError("labels", f"A rulebook needs at least {MIN_LABELS} labels; it has {len(labels)}.")
        )
    seen_keys: dict[str, int] = {}
    seen_hotkeys: dict[str, int] = {}
    for i, label in enumerate(labels):
        key = label.get("key", "")
        if not key:
            errors.append(RulebookError("key", "Give the label a key.", i))
        elif not KEY_RE.match(key):
            errors.append(
                RulebookError(
                    "key",
                    f"Key {key!r} must be lower-case letters, digits, '-' or '_' (at most 50).",
                    i,
                )
            )
        elif key in seen_keys:
            errors.append(
                RulebookError("key", f"Key {key!r} is already used by label {seen_keys[key] + 1}.", i)
            )
        else:
            seen_keys[key] = i
        if not label.get("name"):
            errors.append(RulebookError("name", "Give the label a name.", i))
        if not label.get("definition"):
            errors.append(RulebookError("definition", "Say in plain words what this label means.", i))
        hotkey = label.get("hotkey", "")
        if hotkey:
            if not HOTKEY_RE.match(hotkey):
                errors.append(RulebookError("hotkey", "A hotkey is one letter or digit.", i))
            elif hotkey in seen_hotkeys:
                errors.append(
                    RulebookError(
                        "hotkey",
                        f"Hotkey {hotkey!r} is already used by label {seen_hotkeys[hotkey] + 1}.",
                        i,
                    )
                )
            else:
                seen_hotkeys[hotkey] = i
        color = label.get("color", "")
        if color and not COLOR_RE.match(color):
            errors.append(RulebookError("color", "A colour is written #rrggbb.", i))
    return errors


# --- comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A piece of an inline diff: ``op`` is 'same', 'add' or 'del'."""

    op: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    title: str
    old: str
    new: str
    segments: tuple[Segment, ...]


@dataclass
class LabelChange:
    key: str
    name: str
    status: str  # "added", "removed", "changed"
    changes: list[FieldChange] = field(default_factory=list)


@dataclass
class RulebookDiff:
    top: list[FieldChange]
    labels: list[LabelChange]
    order_changed: bool

    @property
    def is_empty(self) -> bool:
        return not self.top and not self.labels and not self.order_changed


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def inline_diff(old: str, new: str) -> tuple[Segment, ...]:
    """Word-level diff of two texts, keeping whitespace, for highlighting what changed."""
    a = re.findall(r"\s+|[^\s]+", old)
    b = re.findall(r"\s+|[^\s]+", new)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("del", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("add", "".join(b[j1:j2])))
    return tuple(segments)


def _field_change(name: str, old: Any, new: Any) -> FieldChange | None:
    old_text, new_text = _as_text(old), _as_text(new)
    if old_text == new_text:
        return None
    return FieldChange(name, FIELD_TITLES.get(name, name), old_text, new_text, inline_diff(old_text, new_text))


def diff(old: dict[str, Any], new: dict[str, Any]) -> RulebookDiff:
    """What changed from document ``old`` to ``new`` (each: top fields plus ``labels``)."""
    top = [c for name in TOP_FIELDS if (c := _field_change(name, old.get(name), new.get(name)))]
    old_labels = {lab["key"]: lab for lab in old.get("labels", [])}
    new_labels = {lab["key"]: lab for lab in new.get("labels", [])}
    changes: list[LabelChange] = []
    for key, lab in new_labels.items():
        if key not in old_labels:
            added = [c for n in LABEL_FIELDS[1:] if (c := _field_change(n, "", lab.get(n)))]
            changes.append(LabelChange(key, lab.get("name", key), "added", added))
            continue
        fields = [
            c for n in LABEL_FIELDS[1:] if (c := _field_change(n, old_labels[key].get(n), lab.get(n)))
        ]
        if fields:
            changes.append(LabelChange(key, lab.get("name", key), "changed", fields))
    for key, lab in old_labels.items():
        if key not in new_labels:
            changes.append(LabelChange(key, lab.get("name", key), "removed"))
    common_old = [k for k in old_labels if k in new_labels]
    common_new = [k for k in new_labels if k in old_labels]
    return RulebookDiff(top=top, labels=changes, order_changed=common_old != common_new)


# --- decision path ----------------------------------------------------------------------------
#
# A few yes/no questions that lead to a label, written one question a line:
#
#     loop: Is there a closed loop? | yes: two-loops | no: one
#     two-loops: Are there two loops? | yes: eight | no: zero
#
# The first line is where the flow starts; a target is another question's id or a label key.

PATH_LINE_RE = re.compile(
    r"^\s*(?P<id>[a-z0-9][a-z0-9_-]*)\s*:\s*(?P<question>[^|]+?)\s*"
    r"\|\s*yes\s*:\s*(?P<yes>[a-z0-9][a-z0-9_-]*)\s*\|\s*no\s*:\s*(?P<no>[a-z0-9][a-z0-9_-]*)\s*$",
    re.IGNORECASE,
)
PATH_FORMAT = "id: question? | yes: target | no: target"


def parse_decision_path(text: str) -> tuple[list[dict[str, str]], list[RulebookError]]:
    """Questions from the editor's text; each bad line is reported with its number."""
    nodes: list[dict[str, str]] = []
    errors: list[RulebookError] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = PATH_LINE_RE.match(line)
        if m is None:
            errors.append(RulebookError("decision_path", f"Line {lineno} is not written “{PATH_FORMAT}”."))
            continue
        nodes.append({k: m.group(k).strip() if k == "question" else m.group(k).lower() for k in ("id", "question", "yes", "no")})
    return nodes, errors


def format_decision_path(nodes: list[dict[str, str]]) -> str:
    return "\n".join(f"{n['id']}: {n['question']} | yes: {n['yes']} | no: {n['no']}" for n in nodes)


def validate_decision_path(nodes: list[dict[str, str]], label_keys: list[str]) -> list[RulebookError]:
    """Unknown targets, ids that clash with labels or repeat, loops, and questions never reached."""
    if not nodes:
        return []
    errors: list[RulebookError] = []
    ids = [n["id"] for n in nodes]
    keys = set(label_keys)
    for node_id in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(RulebookError("decision_path", f"Question {node_id!r} is defined twice."))
    for node_id in sorted(set(ids) & keys):
        errors.append(RulebookError("decision_path", f"Question id {node_id!r} is also a label key; rename it."))
    by_id = {n["id"]: n for n in nodes}
    for n in nodes:
        for answer in ("yes", "no"):
            target = n[answer]
            if target not in by_id and target not in keys:
                errors.append(
                    RulebookError("decision_path", f"Question {n['id']!r}: “{answer}” leads to {target!r}, which is neither a question nor a label.")
                )
    if errors:
        return errors
    # Walk from the start: every question reachable, no question reached again on one path.
    reached: set[str] = set()

    def walk(node_id: str, trail: tuple[str, ...]) -> None:
        if node_id in trail:
            errors.append(RulebookError("decision_path", "The questions loop: " + " → ".join((*trail, node_id)) + "."))
            return
        reached.add(node_id)
        for answer in ("yes", "no"):
            target = by_id[node_id][answer]
            if target in by_id:
                walk(target, (*trail, node_id))

    walk(nodes[0]["id"], ())
    for node_id in ids:
        if node_id not in reached:
            errors.append(RulebookError("decision_path", f"Question {node_id!r} is never reached from the first question."))
    return errors


# --- answers ------------------------------------------------------------------------------------
