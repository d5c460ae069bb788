"""Labeling rules and how they are applied to items. Pure Python, numpy and RE2; no Django here.

A rule votes one label (a rulebook key) when its condition holds and abstains otherwise.
Four kinds of condition, none of which runs code of the rule's author on the server:

``keywords``
    A list of words or phrases; the rule fires when the text contains any of them. Options:
    ``whole_words`` (default on: "refund" does not fire on "refunded"; a boundary is any character
    that is not a letter, digit, mark or ``_``, in any script, and is checked only at an end of a
    keyword that is itself a word character, so ":)" and "c++" work) and ``case_sensitive``
    (default off; case is folded the Unicode way). Whitespace inside a phrase matches any run of
    whitespace.
``regex``
    A regular expression in RE2's syntax, searched anywhere in the text; ``case_sensitive`` as
    above. RE2 runs in time linear in the text, whatever the pattern — there is no backtracking,
    so no pattern can stall a worker; it refuses back-references and look-around, and a pattern
    whose compiled program exceeds ``PATTERN_MEM`` is refused when the rule is saved. Note that
    ``\\w``, ``\\b`` and ``\\d`` are ASCII in RE2; ``\\pL`` is any letter.
``metadata``
    ``field operator value`` on the item's metadata (a flat dict of JSON values). Comparison:
    1. when both sides read as numbers — a JSON number, or a string holding a decimal number such
       as ``"7"`` or ``"2.5e3"`` (CSV imports carry every field as text) — they compare as numbers;
    2. else when both read as booleans (``true``/``false``, or those words as strings in any case),
       as booleans;
    3. else when both are strings, as strings: exactly, case included, in code-point order (so ISO
       dates such as ``exif_taken_at`` order correctly);
    4. otherwise ``=``, ``<``, ``<=``, ``>``, ``>=`` are false and ``!=`` is true.
    A missing or null field makes every operator false except ``exists`` (value ``false``).
    ``in`` holds when the value ``=`` one of a list; ``contains`` when a string field contains the
    value's text (case included) or a list field has an element ``=`` the value. ``≠ ≤ ≥`` are
    accepted for ``!= <= >=``.
``model``
    "the model says label X with confidence at least t": fires where ``predictions[item, X] >= t``.
    Items without a prediction (a row of NaN) abstain.

Applying a rule set gives an items × rules matrix of label indices, ``ABSTAIN`` (-1) where a
rule does not fire: ``apply`` (or ``compile_rules`` once and ``.apply`` many times, as a preview
does). All keyword and regex rules of a set share one RE2 set, so each text is scanned once
whatever the number of rules (50 rules over a million texts: docs/benchmarks.md). Texts are read
up to ``MAX_TEXT_CHARS``. An RE2 set scans with a DFA, which can give up on a pattern whose
automaton outgrows its memory; the set carries an empty pattern that matches every text, so a
scan that gave up is told from a scan that found nothing, and such a text is searched again
rule by rule with RE2's own fallback engines (still linear).

Why over 400 lines: Every rule kind compiles into the one RE2 set applied here, so the kinds stay in one module.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import re2

ABSTAIN = -1
KINDS = ("keywords", "regex", "metadata", "model")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "contains", "exists")
OPERATOR_ALIASES = {"≠": "!=", "≤": "<=", "≥": ">=", "==": "="}

MAX_KEYWORDS = 500  # keywords in one rule
MAX_KEYWORD_CHARS = 100
MAX_PATTERN_CHARS = 1000
MAX_FIELD_CHARS = 100
MAX_VALUE_CHARS = 1000
MAX_IN_VALUES = 1000
MAX_RULES = 1000  # rules applied together
MAX_TEXT_CHARS = 200_000  # a text is matched up to this many characters
PATTERN_MEM = 8 << 20  # RE2's memory budget for one rule's program: larger patterns are refused
SET_MEM = 512 << 20  # for the shared set of a rule set (its DFA cache)

_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
_NOT_WORD = r"[^\pL\pN\pM_]"


class RuleInvalid(ValueError):
    """A rule that cannot be saved; ``field`` names the part at fault (``params.words[2]``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _options(max_mem: int, case_sensitive: bool = True) -> re2.Options:
    options = re2.Options()
    options.max_mem = max_mem
    options.log_errors = False
    options.case_sensitive = case_sensitive
    return options


def _compile(pattern: str, field: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _options(PATTERN_MEM))
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if "escape sequence" in reason or "perl operator" in reason:
            hint = " RE2 has no back-references (\\1) or look-around ((?=…), (?<=…))."
        elif "too large" in reason or "repetition" in reason:
            hint = " Use fewer or smaller repetitions."
        raise RuleInvalid(field, f"RE2 cannot use this pattern: {reason}.{hint}") from None


def _is_word_char(char: str) -> bool:
    return char == "_" or unicodedata.category(char)[0] in "LNM"


@dataclass(frozen=True)
class Keywords:
    words: tuple[str, ...]
    whole_words: bool = True
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.words, str) or not isinstance(self.words, tuple | list):
            raise RuleInvalid("params.words", "Give a list of words or phrases.")
        if not self.words:
            raise RuleInvalid("params.words", "Give at least one word or phrase.")
        if len(self.words) > MAX_KEYWORDS:
            raise RuleInvalid("params.words", f"At most {MAX_KEYWORDS} words or phrases (got {len(self.words)}).")
        words = []
        for n, word in enumerate(self.words):
            if not isinstance(word, str) or not word.strip():
                raise RuleInvalid(f"params.words[{n}]", "A keyword must be non-empty text.")
            if len(word) > MAX_KEYWORD_CHARS:
                raise RuleInvalid(f"params.words[{n}]", f"At most {MAX_KEYWORD_CHARS} characters (got {len(word)}).")
            words.append(unicodedata.normalize("NFC", " ".join(word.split())))
        object.__setattr__(self, "words", tuple(words))
        _check_flag("params.whole_words", self.whole_words)
        _check_flag("params.case_sensitive", self.case_sensitive)

    def pattern(self) -> str:
        """One RE2 pattern: the keywords as alternatives, each with its word boundaries."""
        parts = []
        for word in self.words:
            body = r"\s+".join(re2.escape(piece) for piece in word.split(" "))
            if self.whole_words and _is_word_char(word[0]):
                body = f"(?:^|{_NOT_WORD}){body}"
            if self.whole_words and _is_word_char(word[-1]):
                body = f"{body}(?:{_NOT_WORD}|$)"
            parts.append(body)
        return ("" if self.case_sensitive else "(?i)") + "(?:" + "|".join(parts) + ")"


@dataclass(frozen=True)
class Regex:
    pattern_text: str
    case_sensitive: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.pattern_text, str) or not self.pattern_text:
            raise RuleInvalid("params.pattern", "Give a regular expression.")
        if len(self.pattern_text) > MAX_PATTERN_CHARS:
            raise RuleInvalid("params.pattern", f"At most {MAX_PATTERN_CHARS} characters (got {len(self.pattern_text)}).")
        _check_flag("params.case_sensitive", self.case_sensitive)
        _compile(self.pattern_text, "params.pattern")  # the author's pattern, as written
        _compile(self.pattern(), "params.pattern")

    def pattern(self) -> str:
        return ("(?:" if self.case_sensitive else "(?i:") + self.pattern_text + ")"


@dataclass(frozen=True)
class Metadata:
    field: str
    operator: str
    value: Any = True

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field.strip():
            raise RuleInvalid("params.field", "Name a metadata field.")
        if len(self.field) > MAX_FIELD_CHARS:
            raise RuleInvalid("params.field", f"At most {MAX_FIELD_CHARS} characters.")
        operator = OPERATOR_ALIASES.get(self.operator, self.operator)
        if operator not in OPERATORS:
            raise RuleInvalid("params.operator", f"Unknown operator {self.operator!r}; use one of {' '.join(OPERATORS)}.")
        object.__setattr__(self, "operator", operator)
        value = self.value
        if operator == "exists":
            _check_flag("params.value", value)
        elif operator == "in":
            if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
                raise RuleInvalid("params.value", "'in' needs a non-empty list of values.")
            if len(value) > MAX_IN_VALUES:
                raise RuleInvalid("params.value", f"At most {MAX_IN_VALUES} values (got {len(value)}).")
            for n, element in enumerate(value):
                _check_scalar(f"params.value[{n}]", element)
            object.__setattr__(self, "value", tuple(value))
        else:
            _check_scalar("params.value", value)
            if operator in ("<", "<=", ">", ">=") and isinstance(value, bool):
                raise RuleInvalid("params.value", f"'{operator}' compares numbers or text, not true/false.")

    def holds(self, item_value: Any) -> bool:
        """Whether the condition holds for one item's value of the field (None: missing)."""
        op, value = self.operator, self.value
        if op == "exists":
            return (item_value is not None) == value
        if item_value is None:
            return False
        if op == "in":
            return any(_compare("=", item_value, element) for element in value)
        if op == "contains":
            if isinstance(item_value, str):
                return isinstance(value, str) and value in item_value
            if isinstance(item_value, list | tuple):
                return any(_compare("=", element, value) for element in item_value if element is not None)
            return False
        return _compare(op, item_value, value)


@dataclass(frozen=True)
class Model:
    label: str
    min_confidence: float

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise RuleInvalid("params.label", "Name the label the model must predict.")
        threshold = self.min_confidence
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise RuleInvalid("params.min_confidence", "Give a confidence between 0 and 1.")
        object.__setattr__(self, "min_confidence", float(threshold))


Condition = Keywords | Regex | Metadata | Model
_KIND_OF = {Keywords: "keywords", Regex: "regex", Metadata: "metadata", Model: "model"}


@dataclass(frozen=True)
class Rule:
    """A rule votes ``label`` (a rulebook key) wherever ``condition`` holds."""

    label: str
    condition: Condition

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise RuleInvalid("label", "Name the label this rule votes.")
        if type(self.condition) not in _KIND_OF:
            raise RuleInvalid("kind", f"Unknown kind of rule; use one of {', '.join(KINDS)}.")

    @property
    def kind(self) -> str:
        return _KIND_OF[type(self.condition)]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form that ``parse_rule`` reads."""
        c = self.condition
        if isinstance(c, Keywords):
            params = {"words": list(c.words), "whole_words": c.whole_words, "case_sensitive": c.case_sensitive}
        elif isinstance(c, Regex):
            params = {"pattern": c.pattern_text, "case_sensitive": c.case_sensitive}
        elif isinstance(c, Metadata):
            params = {"field": c.field, "operator": c.operator,
                      "value": list(c.value) if isinstance(c.value, tuple) else c.value}  # fmt: skip
        else:
            params = {"label": c.label, "min_confidence": c.min_confidence}
        return {"kind": self.kind, "label": self.label, "params": params}


_PARAMS = {
    "keywords": (Keywords, {"words": "words", "whole_words": "whole_words", "case_sensitive": "case_sensitive"}),
    "regex": (Regex, {"pattern": "pattern_text", "case_sensitive": "case_sensitive"}),
    "metadata": (Metadata, {"field": "field", "operator": "operator", "value": "value"}),
    "model": (Model, {"label": "label", "min_confidence": "min_confidence"}),
}
_REQUIRED = {"keywords": ("words",), "regex": ("pattern",), "metadata": ("field", "operator"),
             "model": ("label", "min_confidence")}  # fmt: skip


def parse_rule(data: Mapping[str, Any], *, labels: Sequence[str] | None = None) -> Rule:
    """A rule from its JSON form ``{"kind", "label", "params": {...}}``; raises ``RuleInvalid``
    naming the field at fault. With ``labels`` (the rulebook's keys), the voted label and a
    model rule's label must be among them."""
    if not isinstance(data, Mapping):
        raise RuleInvalid("rule", "A rule is an object with kind, label and params.")
    kind = data.get("kind")
    if kind not in _PARAMS:
        raise RuleInvalid("kind", f"Unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
    params = data.get("params")
    if not isinstance(params, Mapping):
        raise RuleInvalid("params", "Give the rule's parameters as an object.")
    cls, names = _PARAMS[kind]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise RuleInvalid(f"params.{unknown[0]}", f"Not a parameter of a {kind} rule; those are {', '.join(names)}.")
    for name in _REQUIRED[kind]:
        if name not in params:
            raise RuleInvalid(f"params.{name}", "Required.")
    condition = cls(**{names[key]: value for key, value in params.items()})
    rule = Rule(label=data.get("label"), condition=condition)  # type: ignore[arg-type]
    if labels is not None:
        _check_labels(rule, labels)
    return rule


def _check_labels(rule: Rule, labels: Sequence[str]) -> None:
    if rule.label not in labels:
        raise RuleInvalid("label", f"{rule.label!r} is not a label of the rulebook; its labels are {', '.join(labels)}.")
    if isinstance(rule.condition, Model) and rule.condition.label not in labels:
        raise RuleInvalid("params.label", f"{rule.condition.label!r} is not a label of the rulebook.")


def _check_flag(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise RuleInvalid(field, "Give true or false.")


def _check_scalar(field: str, value: Any) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise RuleInvalid(field, "Give a finite number.")
        return
    if isinstance(value, str):
        if len(value) > MAX_VALUE_CHARS:
            raise RuleInvalid(field, f"At most {MAX_VALUE_CHARS} characters.")
        return
    raise RuleInvalid(field, "Give a number, text, or true/false.")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return None


_ORDER = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
          "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}  # fmt: skip


def _compare(op: str, item_value: Any, value: Any) -> bool:
    """``item_value op value`` under the typed rules of the module docstring."""
    a, b = _as_number(item_value), _as_number(value)
    if a is None or b is None:
        a, b = _as_bool(item_value), _as_bool(value)
        if a is None or b is None or op not in ("=", "!="):
            a, b = item_value, value
            if not (isinstance(a, str) and isinstance(b, str)):
                return op == "!="
    return _ORDER[op](a, b)


class CompiledRules:
    """A rule set ready to apply: its text rules in one RE2 set. Build with ``compile_rules``."""

    def __init__(self, rules: Sequence[Rule], labels: Sequence[str], set_mem: int = SET_MEM) -> None:
        if len(rules) > MAX_RULES:
            raise RuleInvalid("rules", f"At most {MAX_RULES} rules at once (got {len(rules)}).")
        self.rules = tuple(rules)
        self.labels = tuple(labels)
        for rule in self.rules:
            _check_labels(rule, self.labels)
        self.votes = np.array([self.labels.index(r.label) for r in self.rules], dtype=np.int16)
        self.text_columns = np.array([j for j, r in enumerate(self.rules) if r.kind in ("keywords", "regex")],
                                     dtype=np.intp)  # fmt: skip
        patterns = [self.rules[j].condition.pattern() for j in self.text_columns]  # type: ignore[union-attr]
        self._single = [re2.compile(p, _options(PATTERN_MEM)) for p in patterns]
        self._set = re2.Set.SearchSet(_options(set_mem))
        self._set.Add("")  # index 0 matches every text: a scan that returns nothing gave up
        for pattern in patterns:
            self._set.Add(pattern)
        self._set.Compile()

    def apply(
        self,
        *,
        texts: Sequence[str | None] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        predictions: np.ndarray | None = None,
        n_items: int | None = None,
    ) -> np.ndarray:
        """The items × rules matrix (int16): a label index where a rule fires, ``ABSTAIN`` where it
        does not. Items are given by their texts (None for an item without text), metadata
        (dicts; None for none) and model predictions (items × labels, NaN rows for no
        prediction); any of them may be absent, and rules that need an absent one abstain —
        except text rules, which need ``texts``. ``n_items`` is needed when all three are absent."""
        n = _n_items(texts, metadata, predictions, n_items)
        if predictions is not None and np.shape(predictions)[1:] != (len(self.labels),):
            raise ValueError(f"predictions must be items × {len(self.labels)} labels, not {np.shape(predictions)}")
        matrix = np.full((n, len(self.rules)), ABSTAIN, dtype=np.int16)
        if len(self.text_columns):
            if texts is None:
                raise ValueError("keyword and regex rules need the items' texts")
            rows, hits = self._text_hits(texts)
            columns = self.text_columns[hits]
            matrix[rows, columns] = self.votes[columns]
        for j, rule in enumerate(self.rules):
            if isinstance(rule.condition, Metadata) and metadata is not None:
                fires = _metadata_fires(rule.condition, metadata)
            elif isinstance(rule.condition, Model) and predictions is not None:
                column = np.asarray(predictions, dtype=float)[:, self.labels.index(rule.condition.label)]
                with np.errstate(invalid="ignore"):
                    fires = column >= rule.condition.min_confidence
            else:
                continue
            matrix[fires, j] = self.votes[j]
        return matrix

    def search_each(self, text: str) -> list[int]:
        """The set's answer for one text (0, then 1 + each text rule that fires) found rule by
        rule, with RE2's linear engines: the fallback for a text the set's DFA gave up on."""
        return [0] + [k + 1 for k, single in enumerate(self._single) if single.search(text)]

    def _text_hits(self, texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """(item, text rule) index pairs where a keyword or regex rule fires."""
        match = self._set.Match
        rows: list[int] = []
        hits: list[int] = []
        for i, text in enumerate(texts):
            if not text:
                continue
            if len(text) > MAX_TEXT_CHARS:
                text = text[:MAX_TEXT_CHARS]
            found = match(text)
            if found is None:  # the set's DFA gave up on this text: search rule by rule
                found = self.search_each(text)
            if len(found) > 1:
                for k in found:
                    if k:
                        rows.append(i)
                        hits.append(k - 1)
        return np.array(rows, dtype=np.intp), np.array(hits, dtype=np.intp)


def _n_items(texts: Any, metadata: Any, predictions: Any, n_items: int | None) -> int:
    sizes = {len(x) for x in (texts, metadata, predictions) if x is not None}
    if n_items is not None:
        sizes.add(n_items)
    if len(sizes) > 1:
        raise ValueError(f"texts, metadata and predictions disagree on the number of items: {sorted(sizes)}")
    if not sizes:
        raise ValueError("give the items' texts, metadata or predictions, or n_items")
    return sizes.pop()


def _metadata_fires(condition: Metadata, metadata: Sequence[Mapping[str, Any] | None]) -> np.ndarray:
    """Per item, whether the condition holds — computed once per distinct scalar value."""
    field = condition.field
    column = [m.get(field) if m else None for m in metadata]
    cache: dict[tuple[type, Any], bool] = {}
    out = np.zeros(len(column), dtype=bool)
    for i, value in enumerate(column):
        if isinstance(value, list | dict):
            out[i] = condition.holds(value)
            continue
        key = (type(value), value)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = condition.holds(value)
        out[i] = hit
    return out


def compile_rules(rules: Sequence[Rule], *, labels: Sequence[str], set_mem: int = SET_MEM) -> CompiledRules:
    """A rule set compiled once, to apply to many batches of items (a preview, an import)."""
    return CompiledRules(rules, labels, set_mem)


def apply(
    rules: Sequence[Rule],
    *,
    labels: Sequence[str],
    texts: Sequence[str | None] | None = None,
    metadata: Sequence[Mapping[str, Any] | None] | None = None,
    predictions: np.ndarray | None = None,
    n_items: int | None = None,
) -> np.ndarray:
    """Items × rules matrix of label indices (``ABSTAIN`` where a rule does not fire)."""
    compiled = compile_rules(rules, labels=labels)
    return compiled.apply(texts=texts, metadata=metadata, predictions=predictions, n_items=n_items)
