"""PII redaction of imported texts: find structured personal data and replace it by typed
placeholders. Pure: no Django, no database; the import decides what to do with the spans.

``redact(text, kinds=…, custom_patterns=…)`` returns the text with each detection replaced by its
placeholder and one ``Span`` per detection (kind, where it was in the original, the placeholder,
where the placeholder is in the new text, and the original characters, so a caller that keeps
originals for admins can store them apart). What is found, and how it is checked:

==================  ====================  ==================================================================
kind                placeholder           found when
==================  ====================  ==================================================================
``email``           ``[EMAIL]``           local part ``@`` a domain with a dot and a letters-only top level
``phone``           ``[PHONE]``           ``phonenumbers``' matcher finds it (leniency POSSIBLE, then:) it starts
                                          with ``+`` or ``00`` (any country); or it is a valid number of one
                                          of ``phone_regions`` (national numbers, without a country code); and
                                          if it is bare digits, a word such as "call", "phone", "mobile"
                                          comes shortly before it or a label ("office", "fax") right after.
                                          Never: part of a longer token ("ORD-2018-689603", "HTTP/1.1"), one
                                          group of a longer run, after a label naming it something else
                                          ("order no.", "tracking", "EAN", "account"), a decimal or version
                                          ("175.05", "120.0.3459.22"), ending in a lone digit (ISBN-10)
``card``            ``[CARD]``            12–19 digits (bare, or grouped by one kind of separator as cards are
                                          printed), an issuer prefix with a length that issuer uses, Luhn; not
                                          13 digits with a valid EAN-13 check (a barcode), not after a label
                                          naming it something else
``iban``            ``[IBAN]``            country code, the country's length and BBAN format, mod-97
                                          (``python-stdnum``)
``ip``              ``[IP]``              IPv4 or IPv6 that ``ipaddress`` accepts; a dotted quad right after
                                          "version", "build", "rv:", "section"… or "Product/" is left alone;
                                          IPv6 needs three groups or a full first one ("1::2" is a slice)
national ids        ``[US_SSN]`` …        chosen by the admin from ``NATIONAL_IDS``: each its printed shape and
                                          its check digits where it has them (``python-stdnum``); where the
                                          shape is plain digits or common groups (PESEL, Aadhaar, SIN, bare
                                          SSN/BSN/CPF), its name must come shortly before it
custom              ``[CUSTOM:name]``     an admin's RE2 pattern (``custom_pattern``): linear time, no
                                          backtracking, bounded length
==================  ====================  ==================================================================

Overlaps resolve deterministically: the longer detection wins; between equally long ones, the
kind earlier in ``PRIORITY`` (checksummed kinds first, custom patterns last); then the earlier one.

Speed: a text with no digit and no ``@`` skips every built-in detector (each of them needs one);
the phone matcher (pure Python, the slowest part) reads only the windows around runs of seven
digits with phone punctuation, once per region. Built-in patterns use only bounded repetition, so no text makes them
backtrack; custom patterns run in RE2. Texts longer than ``MAX_TEXT_CHARS`` are refused.

Why over 400 lines: Each PII kind's detector and checksum sit beside the one pass that applies them all.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import phonenumbers
import re2
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban as stdnum_iban
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.us import ssn

MAX_TEXT_CHARS = 1_000_000  # the import's own limit on a text (annotation.ingest.MAX_TEXT_CHARS)
MAX_PATTERN_CHARS = 500
MAX_CUSTOM_PATTERNS = 50
_PATTERN_MEMORY = 8 << 20  # RE2's budget per compiled pattern; a larger program is refused at compile time
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")

BUILTIN_KINDS = ("email", "phone", "card", "iban", "ip")
DEFAULT_KINDS = frozenset(BUILTIN_KINDS)
PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]", "ip": "[IP]"}
DEFAULT_PHONE_REGIONS = ("US",)


class PatternInvalid(ValueError):
    """An admin's pattern that cannot be used; ``field`` is ``name`` or ``pattern``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TextTooLong(ValueError):
    pass


@dataclass(frozen=True)
class Span:
    kind: str  # "email", "phone", "card", "iban", "ip", a national id key, or "custom:<name>"
    start: int  # in the original text
    end: int
    placeholder: str
    original: str  # text[start:end]: keep it apart, never show it to annotators
    redacted_start: int = 0  # where the placeholder starts in the redacted text


@dataclass(frozen=True)
class Redacted:
    text: str
    spans: tuple[Span, ...]

    def counts(self) -> dict[str, int]:
        """Detections per kind, for the import's report."""
        return dict(Counter(span.kind for span in self.spans))


@dataclass(frozen=True)
class CustomPattern:
    name: str
    pattern: str
    compiled: object  # re2._Regexp

    @property
    def placeholder(self) -> str:
        return f"[CUSTOM:{self.name}]"


def custom_pattern(*, name: str, pattern: str) -> CustomPattern:
    """An admin's pattern, compiled by RE2 (matching time linear in the text: no backtracking).
    Refused, with the reason: a name that is not a short slug, an empty pattern or one longer than
    ``MAX_PATTERN_CHARS``, syntax RE2 does not have (backreferences, look-around), a program larger
    than RE2's memory budget, and a pattern that matches the empty string (it would match everywhere)."""
    if not _NAME.fullmatch(name):
        raise PatternInvalid("name", f"Pattern name {name!r} must be 1–40 lower-case letters, digits, '-' or '_', starting with a letter.")
    if not pattern:
        raise PatternInvalid("pattern", f"Pattern {name!r} is empty.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternInvalid("pattern", f"Pattern {name!r} is {len(pattern)} characters long; the limit is {MAX_PATTERN_CHARS}.")
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MEMORY
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternInvalid(
            "pattern",
            f"Pattern {name!r} is not a valid regular expression here: {reason} "
            "(RE2 syntax: no backreferences or look-around).",
        ) from None
    if compiled.search("") is not None:
        raise PatternInvalid("pattern", f"Pattern {name!r} matches the empty text, so it would match everywhere.")
    return CustomPattern(name=name, pattern=pattern, compiled=compiled)


# --- labels -------------------------------------------------------------------------------------

_THINGS = (
    "order", "invoice", "inv", "ref", "reference", "tracking", "track", "ticket", "serial", "sn", "isbn", "issn",
    "ean", "gtin", "upc", "barcode", "imei", "sku", "po", "transaction", "txn", "confirmation", "booking",
    "batch", "lot", "part", "model", "build", "version", "item", "receipt", "parcel", "shipment", "consignment",
    "waybill", "pnr", "zip", "postcode", "postal code", "sort code", "product", "article",
)
_IDENTIFIERS = ("case", "account", "acct", "a/c", "id", "customer", "member", "policy", "claim", "record", "file",
                "request", "job", "task", "issue", "bug", "reg", "registration")  # fmt: skip


def _label(words: Sequence[str]) -> re.Pattern[str]:
    """A label right before a number ("order no. ", "tracking number is ", "EAN: ") that names it."""
    return re.compile(
        r"(?i)(?<![^\W_])(?:" + "|".join(re.escape(w) for w in words) + r")\.?\s*"
        r"(?:(?:no|nr|number|num|id|code|#)\.?\s*)?(?:(?:is|was|:|=|#)\s*)?\Z"
    )


# A number labelled as one of these things is that thing, not a card, an identity number or a phone…
_THING_BEFORE = _label(_THINGS)
# …and a number labelled as an account, a customer, a case… is not a phone number.
_NOT_PHONE_BEFORE = _label(_THINGS + _IDENTIFIERS)
_LABEL_WINDOW = 40


def _labelled(pattern: re.Pattern[str], text: str, start: int) -> bool:
    return pattern.search(text, max(0, start - _LABEL_WINDOW), start) is not None


# --- national identifiers ---------------------------------------------------------------------


def _nino_valid(value: str) -> bool:
    """UK National Insurance number: two prefix letters (D, F, I, Q, U, V never; O never second;
    BG, GB, KN, NK, NT, TN, ZZ never issued), six digits, suffix A–D (HMRC's rules; no check digit)."""
    compact = value.replace(" ", "").upper()
    first, second = compact[0], compact[1]
    if first in "DFIQUV" or second in "DFIQUVO":
        return False
    return compact[:2] not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


@dataclass(frozen=True)
class NationalId:
    key: str
    name: str
    pattern: re.Pattern[str] | None  # its printed shape; None where it is printed as plain digits
    check: Callable[[str], bool]
    context: re.Pattern[str] | None = None  # words that announce it; needed where ``bare`` matches
    bare: re.Pattern[str] | None = None  # a shape so common (plain digits) that it needs ``context``
    validation: str = ""

    @property
    def placeholder(self) -> str:
        return f"[{self.key.upper()}]"


def _words(*words: str) -> re.Pattern[str]:
    return re.compile(r"(?i)(?<![^\W_])(?:" + "|".join(words) + r")(?![^\W_])")


def _shape(body: str) -> re.Pattern[str]:
    """``body`` not inside a longer run of letters, digits or the separators it uses. (A pattern
    that starts with a lookahead or a character class is tried at fewer places than one that
    starts with a lookbehind: the patterns here put their first character before their lookbehinds.)"""
    return re.compile(r"(?=[0-9A-Za-z])(?<![\w.\-/])(?<![0-9] )" + body + r"(?![\w]|[.\-/]\w| [0-9])")


NATIONAL_IDS: dict[str, NationalId] = {
    n.key: n
    for n in (
        NationalId(
            "us_ssn", "US Social Security number", _shape(r"[0-9]{3}([- ])[0-9]{2}\1[0-9]{4}"),
            lambda v: ssn.is_valid(v.replace(" ", "")),
            context=_words("ssn", "ssns", "social security", "ss#", "ss no"), bare=_shape(r"[0-9]{9}"),
            validation="area not 000, 666 or 9xx, group not 00, serial not 0000, known invalid numbers",
        ),
        NationalId(
            "uk_nino", "UK National Insurance number", _shape(r"(?i:[a-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[a-d])"),
            _nino_valid, validation="HMRC's prefix rules and suffix A–D (no check digit)",
        ),
        NationalId(
            "ca_sin", "Canadian Social Insurance number", None, sin.is_valid,
            context=_words("sin", "social insurance", "nas"), bare=_shape(r"[0-9]{3}([- ]?)[0-9]{3}\1[0-9]{3}"),
            validation="Luhn",
        ),
        NationalId(
            "fr_nir", "French social security number (NIR)",
            _shape(r"[1-478] ?[0-9]{2} ?(?:0[1-9]|1[0-2]|[2-9][0-9]) ?(?:[0-9]{2}|2[AaBb]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}"),
            nir.is_valid, validation="mod-97 key",
        ),
        NationalId(
            "es_dni", "Spanish DNI / NIE", _shape(r"(?i:[XYZ]-?[0-9]{7}-?[A-Z]|[0-9]{8}-?[A-Z])"),
            lambda v: dni.is_valid(v) or nie.is_valid(v), validation="mod-23 check letter",
        ),
        NationalId(
            "it_fiscal_code", "Italian codice fiscale",
            _shape(r"(?i:[A-Z]{6}[0-9LMNP-V]{2}[A-EHLMPR-T][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z])"),
            codicefiscale.is_valid, validation="birth date and check letter",
        ),
        NationalId(
            "nl_bsn", "Dutch citizen service number (BSN)", _shape(r"[0-9]{4}\.[0-9]{2}\.[0-9]{3}"), bsn.is_valid,
            context=_words("bsn", "burgerservicenummer", "sofinummer", "sofi"), bare=_shape(r"[0-9]{9}"),
            validation="eleven-test",
        ),
        NationalId(
            "br_cpf", "Brazilian CPF", _shape(r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}"), cpf.is_valid,
            context=_words("cpf"), bare=_shape(r"[0-9]{11}"), validation="two mod-11 check digits",
        ),
        NationalId(
            "in_aadhaar", "Indian Aadhaar number", None, aadhaar.is_valid,
            context=_words("aadhaar", "aadhar", "uidai", "uid"), bare=_shape(r"[2-9][0-9]{3}([- ]?)[0-9]{4}\1[0-9]{4}"),
            validation="Verhoeff check digit",
        ),
        NationalId(
            "pl_pesel", "Polish PESEL", None, pesel.is_valid,
            context=_words("pesel"), bare=_shape(r"[0-9]{11}"), validation="birth date and check digit",
        ),
    )
}
KINDS = BUILTIN_KINDS + tuple(NATIONAL_IDS)
# Ties between equally long detections: the more specific check first.
PRIORITY = ("iban", "card", *NATIONAL_IDS, "email", "ip", "phone")
_RANK = {kind: i for i, kind in enumerate(PRIORITY)}
_CONTEXT_BEFORE = 40  # characters before a bare number searched for its announcing words


# --- detectors: each yields (start, end, kind) ---------------------------------------------

_Hit = tuple[int, int, str]
_TRIGGER = re.compile(r"[0-9@]")
# Local part and domain of an address, tried only where there is an "@": bounded, so a text of
# thousands of "@" or letters costs linear time.
_EMAIL_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~-][\w.!#$%&'*+/=?^`{|}~-]{0,63}\Z")
_EMAIL_DOMAIN = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})(?![\w-]|\.[^\W_])")


def _emails(text: str) -> Iterable[_Hit]:
    at = text.find("@")
    while at != -1:
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if local and domain:
            start = local.start()
            while text[start] == ".":  # a sentence's full stop before the address
                start += 1
            yield start, domain.end(), "email"
            at = text.find("@", domain.end())
        else:
            at = text.find("@", at + 1)


# Card numbers: bare, or in groups with one kind of separator. Not part of a longer number or id.
# The grouped form needs its separators, so no run of digits can be split two ways (no backtracking).
_CARD = re.compile(
    r"[0-9](?<![\w.,/-][0-9])(?<![0-9][ -][0-9])(?:[0-9]{11,18}|[0-9]{3}([ -])[0-9]{2,7}(?:\1[0-9]{1,7}){1,4})(?![\w]|[ .,/-][0-9])"
)
# Issuer prefixes and the lengths each issuer uses (ISO/IEC 7812 registrations as published by the networks).
_CARD_ISSUERS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("visa", r"4", frozenset({13, 16, 19})),
    ("mastercard", r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)", frozenset({16})),
    ("amex", r"3[47]", frozenset({15})),
    ("discover", r"6011|64[4-9]|65", frozenset(range(16, 20))),
    ("diners", r"30[0-59]|3[689]", frozenset(range(14, 20))),
    ("jcb", r"35(?:2[89]|[3-8])", frozenset(range(16, 20))),
    ("jcb15", r"2131|1800", frozenset({15})),
    ("unionpay", r"62", frozenset(range(16, 20))),
    ("maestro", r"5018|5020|5038|5893|6304|6759|676[1-3]", frozenset(range(12, 20))),
    ("mir", r"220[0-4]", frozenset(range(16, 20))),
    ("rupay", r"60|8[12]|508", frozenset({16})),
    ("dankort", r"5019", frozenset({16})),
)
_ISSUER_PATTERNS = tuple((name, re.compile(prefix), lengths) for name, prefix, lengths in _CARD_ISSUERS)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_grouping_ok(groups: list[str]) -> bool:
    """Printed card numbers come in fours (the last group may have one to five digits), or 4-6-5 / 4-6-4."""
    if len(groups) == 1:
        return True
    sizes = [len(g) for g in groups]
    if sizes[:2] == [4, 6] and len(sizes) == 3 and sizes[2] in (4, 5):
        return True
    return all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 5


def card_issuer(number: str) -> str | None:
    """The network whose prefix and length ``number`` has ("visa", "amex", …), or None."""
    digits = number.replace(" ", "").replace("-", "")
    for name, prefix, lengths in _ISSUER_PATTERNS:
        if len(digits) in lengths and prefix.match(digits):
            return name
    return None


def card_valid(number: str) -> bool:
    """A payment card number: issuer prefix, a length that issuer uses, and the Luhn check."""
    digits = number.replace(" ", "").replace("-", "")
    if not digits.isdigit() or card_issuer(digits) is None:
        return False
    if len(digits) == 13 and ean13_valid(digits):
        return False  # a barcode: only long-withdrawn 13-digit Visa numbers had this length
    return luhn_valid(digits)


def ean13_valid(digits: str) -> bool:
    """The EAN-13 (and ISBN-13) check digit: weights 1 and 3."""
    total = sum((ord(ch) - 48) * (3 if i % 2 else 1) for i, ch in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == ord(digits[12]) - 48


def _cards(text: str) -> Iterable[_Hit]:
    for m in _CARD.finditer(text):
        raw, sep = m.group(), m.group(1)
        groups = raw.split(sep) if sep else [raw]
        if _card_grouping_ok(groups) and card_valid(raw) and not _labelled(_THING_BEFORE, text, m.start()):
            yield m.start(), m.end(), "card"


_IBAN = re.compile(r"[A-Za-z](?<![\w][A-Za-z])[A-Za-z][0-9]{2}(?: ?[A-Za-z0-9]){11,30}")


def _ibans(text: str) -> Iterable[_Hit]:
    """The longest prefix of the candidate, ending where a word ends, that is a valid IBAN."""
    for m in _IBAN.finditer(text):
        raw = m.group()
        for end in range(len(raw), 14, -1):
            if end < len(raw) and raw[end] != " " or raw[end - 1] == " ":
                continue  # ends inside a group, or on a space
            if stdnum_iban.is_valid(raw[:end], check_country=False):
                yield m.start(), m.start() + end, "iban"
                break


_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?![\w]|\.[0-9])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})"
    r"(?:(?<=:)(?:[0-9]{1,3}\.){3}[0-9]{1,3})?(?:%[\w]{1,16})?(?![\w:]|\.[0-9])"
    r"|(?<![\w:.])::(?:[0-9A-Fa-f]{1,4}:){0,6}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4})(?![\w:]|\.[0-9])"
)
# A dotted quad right after these words is a version or a section number, not an address; so is
# one glued to a product name by a slash ("Firefox/1.9.2.20", as user agents write versions).
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\b(?:version|ver|v|vers|build|release|rel|firmware|fw|revision|rev|rv|patch|update|upgrade|"
    r"section|sect|sec|chapter|clause|paragraph|para|rule|step|figure|fig|table|item|art|article)\.?|§)\s*:?\s*\Z"
    r"|[^\W_]/\Z"
)


def _ips(text: str) -> Iterable[_Hit]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if not _VERSION_BEFORE.search(text, max(0, m.start() - 20), m.start()):
            yield m.start(), m.end(), "ip"
    if ":" in text:
        for m in _IPV6.finditer(text):
            raw = m.group()
            groups = [g for g in raw.split("%")[0].replace("::", ":").split(":") if g]
            # "1::2" is a slice or a ratio; an address has three groups, or a full first group.
            if len(groups) < 3 and len(groups[0] if groups else "") < 4:
                continue
            try:
                ipaddress.IPv6Address(raw)
            except ValueError:
                continue
            yield m.start(), m.end(), "ip"


# Runs of at least seven digits with phone punctuation between them: the only parts of a text the
# (pure Python, slow) phone matcher reads. Separators and digits never overlap, so no backtracking.
_PHONE_RUN = re.compile(r"[0-9](?:[ \t().\-/]{0,3}[0-9]){6,40}")
_WINDOW_BEFORE, _WINDOW_AFTER = 3, 14  # room for "+", "(" before a run, " ext. 12345" after it
# "0044 20…": the international prefix most countries dial, where a number starts (not "496 0069"
# or "(07700) 009 078").
_IDD_00 = re.compile(r"(?<![^\s(])(?<![0-9)][ ])00(?=[1-9])")
_PHONE_CONTEXT = _words(
    "call", "called", "calling", "phone", "phones", "telephone", "tel", "mobile", "cell", "cellphone",
    "contact", "reach", "text", "texts", "sms", "message", "messages", "whatsapp", "signal", "fax",
    "dial", "ring", "landline", "hotline", "number", "ph", "mob",
)
# How contact cards label a number after it: "4155552671 office", "4155552671-Fax", "(home)".
_PHONE_LABEL_AFTER = re.compile(r"(?i)[ \t]?[-(]?[ \t]?(?:office|home|work|desk|direct|main|cell|mobile|fax)\b")


def _glued(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a piece of a longer token: letters or digits right against it,
    joined to a word by a hyphen or slash ("ORD-2018-689603", "HTTP/1.1"), or one group of a
    longer run of digit groups ("9400 1111 2222 3333 4444 55")."""
    before = text[max(0, start - 2) : start]
    after = text[end : end + 2]
    if before[-1:].isalnum() or after[:1].isalnum() or before[-1:] == "-":  # "-175.05": a negative number
        return True
    if len(before) == 2 and before[1] in "-_/." and before[0].isalnum():
        return True
    if len(before) == 2 and before[1] in " " and before[0].isdigit():
        return True
    return len(after) == 2 and after[0] in " -_/." and after[1].isdigit()


_GROUP = re.compile(r"[0-9]+")


def _phone_windows(text: str) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for m in _PHONE_RUN.finditer(text):
        start, end = max(0, m.start() - _WINDOW_BEFORE), min(len(text), m.end() + _WINDOW_AFTER)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _phones(text: str, regions: Sequence[str]) -> Iterable[_Hit]:
    scan = _IDD_00.sub(" +", text)  # same length, so offsets still point into ``text``
    for window_start, window_end in _phone_windows(scan):
        window = scan[window_start:window_end]
        for region in regions:
            for m in PhoneNumberMatcher(window, region, leniency=Leniency.POSSIBLE):
                hit = _phone_accepted(text, window_start + m.start, window_start + m.end, m)
                if hit is not None:
                    yield hit


def _phone_accepted(text: str, start: int, end: int, m: phonenumbers.PhoneNumberMatch) -> _Hit | None:
    raw = m.raw_string
    if raw.startswith("(") and ")" not in raw:
        start, raw = start + 1, raw[1:]  # the matcher keeps an unclosed bracket: "(0123…" in "(0123…)"
    if raw.startswith("+") and text[start] == "0":
        start -= 1  # the span starts at the "00" the scan rewrote
    if _glued(text, start, end) or _labelled(_NOT_PHONE_BEFORE, text, start):
        return None
    groups = _GROUP.findall(raw.split("x")[0].split("ext")[0])  # the number without its extension
    if sum(map(len, groups)) < 7:
        return None  # "0x0636…": a hex number read as "0" with an extension
    if "." in raw and (raw.count(".") == 1 or any(len(g) == 1 for g in groups)):
        return None  # "175.052468", "120.0.3459.22", "1.1 201 36590": decimals and versions; dotted numbers have 2+ dots
    if len(groups) > 1 and len(groups[-1]) == 1:
        return None  # "1-63138-044-3": no phone number ends in a lone digit; an ISBN's check digit does
    if raw.isdigit() or text.startswith("00", start) and raw[1:].isdigit():
        # Bare digits: an order, account or parcel number as often as a phone.
        if not (_PHONE_CONTEXT.search(text, max(0, start - _CONTEXT_BEFORE), start)
                or _PHONE_CONTEXT.search(text, end, end + 16) or _PHONE_LABEL_AFTER.match(text, end)):  # fmt: skip
            return None
    if raw.startswith("+"):
        return start, end, "phone"  # a country code: its possible length is evidence enough
    if not phonenumbers.is_valid_number(m.number):
        return None
    return start, end, "phone"


def _national_ids(text: str, keys: Iterable[str]) -> Iterable[_Hit]:
    for key in keys:
        spec = NATIONAL_IDS[key]
        if spec.pattern is not None:
            for m in spec.pattern.finditer(text):
                if spec.check(m.group()) and not _labelled(_THING_BEFORE, text, m.start()):
                    yield m.start(), m.end(), key
        if spec.bare is not None and spec.context is not None:
            for m in spec.bare.finditer(text):
                if spec.context.search(text, max(0, m.start() - _CONTEXT_BEFORE), m.start()) and spec.check(m.group()):
                    yield m.start(), m.end(), key


def _resolve(hits: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
    """Non-overlapping detections: longest first, then by ``PRIORITY`` (custom last), then earliest."""
    if len(hits) < 2:
        return hits
    order = sorted(hits, key=lambda h: (h[0] - h[1], _RANK.get(h[2], len(_RANK)), h[0], h[2]))
    taken: list[tuple[int, int, str, str]] = []
    for hit in order:
        if all(hit[1] <= t[0] or hit[0] >= t[1] for t in taken):
            taken.append(hit)
    taken.sort()
    return taken


def find_pii(
    text: str,
    *,
    kinds: Iterable[str] = DEFAULT_KINDS,
    custom_patterns: Sequence[CustomPattern] = (),
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> list[tuple[int, int, str, str]]:
    """The detections in ``text`` as sorted, non-overlapping (start, end, kind, placeholder)."""
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(f"text is {len(text):,} characters long; redaction reads at most {MAX_TEXT_CHARS:,}")
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    if len(custom_patterns) > MAX_CUSTOM_PATTERNS:
        raise ValueError(f"{len(custom_patterns)} custom patterns; at most {MAX_CUSTOM_PATTERNS} run on a text")
    if bad := [r for r in phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]:
        raise ValueError(f"unknown phone regions {bad}; use ISO 3166 country codes such as US, GB, IN")
    hits: list[tuple[int, int, str, str]] = []
    if wanted and _TRIGGER.search(text):
        found: list[_Hit] = []
        if "email" in wanted and "@" in text:
            found += _emails(text)
        if "card" in wanted:
            found += _cards(text)
        if "iban" in wanted:
            found += _ibans(text)
        if "ip" in wanted and ("." in text or ":" in text):
            found += _ips(text)
        if "phone" in wanted:
            found += _phones(text, phone_regions)
        if ids := [k for k in NATIONAL_IDS if k in wanted]:
            found += _national_ids(text, ids)
        hits = [(s, e, k, PLACEHOLDERS.get(k) or NATIONAL_IDS[k].placeholder) for s, e, k in found]
    for pattern in custom_patterns:
        for m in pattern.compiled.finditer(text):  # type: ignore[attr-defined]
            if m.end() > m.start():
                hits.append((m.start(), m.end(), f"custom:{pattern.name}", pattern.placeholder))
    return _resolve(hits)


def redact(
    text: str,
    *,
    kinds: Iterable[str] = DEFAULT_KINDS,
    custom_patterns: Sequence[CustomPattern] = (),
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> Redacted:
    """``text`` with every detection replaced by its placeholder, and the spans replaced.
    ``kinds``: any of ``KINDS``; ``phone_regions``: ISO country codes whose national numbers
    (written without a country code) are recognised, the first being the most likely."""
    hits = find_pii(text, kinds=kinds, custom_patterns=custom_patterns, phone_regions=phone_regions)
    if not hits:
        return Redacted(text, ())
    parts: list[str] = []
    spans: list[Span] = []
    position = length = 0
    for start, end, kind, placeholder in hits:
        parts.append(text[position:start])
        length += start - position
        spans.append(Span(kind, start, end, placeholder, text[start:end], redacted_start=length))
        parts.append(placeholder)
        length += len(placeholder)
        position = end
    parts.append(text[position:])
    return Redacted("".join(parts), tuple(spans))
