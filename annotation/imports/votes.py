"""Importing votes cast elsewhere — another tool, a crowd platform — and gold answers.

``votes.csv`` has the columns ``item,annotator,label``; ``gold.csv`` has ``item,label``. Items
are matched by their external id (created first when asked to), labels by key or by name, and
annotators become voters of the project (kind ``external``) — never logins.

Good rows are kept and bad rows reported, each with its row number, field and reason: an
unknown item or label, an empty field, a second, different answer from the same annotator on
the same item (votes are append-only, so the first one stands), any vote of an annotator an
admin has suspended (suspension stops every way a vote gets in), a malformed line, a line over
``QUORUM_MAX_LINE_BYTES`` (read past, never held). A file that is not UTF-8, is over
``QUORUM_MAX_VOTES_FILE_BYTES``, or whose header lacks the columns or has more than
``QUORUM_MAX_CSV_COLUMNS``, is refused whole. Re-importing the same file adds nothing. After the
import the whole project is re-estimated and its items decided.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from annotation.exceptions import ValidationFailed
from annotation.ingest import readers as ingest
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.labeling.models import Vote, VoteKind
from annotation.projects import services as projects_services
from annotation.projects.models import ItemKind, Project, QuestionType
from annotation.projects.services import audit_record
from annotation.rulebook import services as rulebook_services
from annotation.rulebook.document import KEY_RE
from annotation.voters.models import Voter, VoterKind
from annotation.voters.services import voters_external_ensure
from consensus.decisions.services import Summary, consensus_reestimate

BATCH = 5000


@dataclass
class VotesImport:
    rows: int = 0
    votes_created: int = 0
    unchanged: int = 0  # already imported before, same answer
    items_created: int = 0
    annotators_created: int = 0
    gold_set: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    consensus: Summary | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "consensus"}
        out["consensus"] = self.consensus.as_dict() if self.consensus else None
        return out


def _read_csv(
    data: bytes | BinaryIO, *, file: str, columns: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """(line number, row) for every data row, and the errors of the lines that could not be read;
    ``ValidationFailed`` if the file as a whole cannot be. Read line by line within
    ``QUORUM_MAX_LINE_BYTES``, never decoded whole."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    size, limit = stream.seek(0, io.SEEK_END), settings.QUORUM_MAX_VOTES_FILE_BYTES
    stream.seek(0)
    if size > limit:
        raise ValidationFailed(
            f"{file} is {size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.",
            [{"field": file, "message": "file too large"}],
        )
    records = ingest.csv_records(stream, settings.QUORUM_MAX_LINE_BYTES)
    first = next(records, None)
    if isinstance(first, ingest.CsvProblem):
        reason = f"the header cannot be read (line {first.line}): {first.reason}"
        raise ValidationFailed(f"{file}: {reason}.", [{"field": file, "message": reason}])
    header = [h.replace("\x00", "").strip().lower() for h in (first.cells if first else [])]
    if len(header) > settings.QUORUM_MAX_CSV_COLUMNS:
        reason = f"the header has {len(header):,} columns; the limit is {settings.QUORUM_MAX_CSV_COLUMNS:,}"
        raise ValidationFailed(f"{file}: {reason}.", [{"field": file, "message": reason}])
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValidationFailed(
            f"{file} needs the columns {', '.join(columns)}; it is missing {', '.join(missing)}.",
            [{"field": file, "message": f"missing column {c!r}"} for c in missing],
        )
    where = {name: i for i, name in enumerate(header)}  # a repeated name: its last column, as csv.DictReader
    at = [where[c] for c in columns]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, ingest.CsvProblem):
            if record.stop:
                message = f"{file} is not UTF-8 text (line {record.line})."
                raise ValidationFailed(message, [{"field": file, "message": "not UTF-8"}])
            errors.append({"file": file, "row": record.line, "field": "line", "reason": record.reason})
        elif cells := record.cells:
            row = {c: cells[i].replace("\x00", "").strip() if i < len(cells) else "" for c, i in zip(columns, at, strict=True)}
            rows.append((record.line, row))
    return rows, errors


def _label_matcher(project: Project) -> tuple[dict[str, str], str]:
    version = project.current_rulebook
    if version is None:
        raise ValidationFailed("Publish a rulebook before importing votes: votes are answers under a rulebook.")
    lookup: dict[str, str] = {}
    for lab in version.labels:
        lookup.setdefault(lab["name"].strip().lower(), lab["key"])
    for lab in version.labels:
        lookup[lab["key"]] = lab["key"]
    return lookup, ", ".join(version.label_keys)


def _item_hash(external_id: str) -> str:
    return hashlib.sha256(b"quorum-imported-item\0" + external_id.encode()).hexdigest()


def _err(result: VotesImport, file: str, row: int, fld: str, reason: str) -> None:
    result.errors.append({"file": file, "row": row, "field": fld, "reason": reason})


def _checked_key(result: VotesImport, file: str, n: int, row: dict[str, str], items, labels, listed) -> str | None:  # type: ignore[no-untyped-def]
    """The row's label key when its item, annotator (votes only) and label are good; otherwise
    None, with the first problem recorded."""
    key = labels.get(row["label"]) or labels.get(row["label"].lower())
    if not row["item"]:
        _err(result, file, n, "item", "empty item id")
    elif "annotator" in row and not row["annotator"]:
        _err(result, file, n, "annotator", "empty annotator")
    elif row["item"] not in items:
        _err(result, file, n, "item", f"no item {row['item']!r} in this project (import items first, or create them)")
    elif key is None:
        _err(result, file, n, "label", f"{row['label']!r} is not a label of the rulebook ({listed})")
    else:
        return key
    return None


def votes_import(
    *,
    actor: AbstractBaseUser | None,
    project: Project,
    votes: bytes | BinaryIO,
    gold: bytes | BinaryIO | None = None,
    create_items: bool = False,
    decide: bool = True,
) -> VotesImport:
    """Import ``votes`` (and ``gold``) into the project; see the module docstring."""
    if project.question_type != QuestionType.SINGLE:
        raise ValidationFailed("Importing votes works for single-choice projects.")
    votes_rows, votes_errors = _read_csv(votes, file="votes.csv", columns=("item", "annotator", "label"))
    gold_rows, gold_errors = _read_csv(gold, file="gold.csv", columns=("item", "label")) if gold is not None else ([], [])
    labels, listed = _label_matcher(project)
    result = VotesImport(rows=len(votes_rows) + len(votes_errors))
    result.errors += gold_errors + votes_errors
    now = timezone.now()
    with transaction.atomic():
        items = _items(project, votes_rows, gold_rows, create_items, result, now)
        _import_gold(project, gold_rows, items, labels, listed, result)
        _import_votes(project, votes_rows, items, labels, listed, result, now)
        audit_record(
            actor=actor, project=project, verb="votes.import", obj=project,
            after={k: v for k, v in result.as_dict().items() if k not in ("errors", "consensus")}
            | {"errors": len(result.errors)},
        )  # fmt: skip
    if decide:
        project.refresh_from_db()
        result.consensus = consensus_reestimate(project=project, actor=actor)
    return result


def _items(project, votes_rows, gold_rows, create: bool, result: VotesImport, now) -> dict[str, int]:  # type: ignore[no-untyped-def]
    wanted = {row["item"] for _, row in votes_rows + gold_rows if row["item"]}
    found: dict[str, int] = {}
    names = sorted(wanted)
    for start in range(0, len(names), BATCH):
        chunk = names[start : start + BATCH]
        found.update(Item.objects.filter(project=project, external_id__in=chunk).values_list("external_id", "pk"))
    missing = [n for n in names if n not in found]
    if create and missing:
        Item.objects.bulk_create(
            [
                Item(
                    project=project, external_id=name, kind=ItemKind.TEXT, text=name, content_hash=_item_hash(name),
                    metadata={"imported_with_votes": True}, state=ItemState.QUEUED,
                )  # fmt: skip
                for name in missing
            ],
            batch_size=BATCH,
        )
        result.items_created = len(missing)
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            found.update(Item.objects.filter(project=project, external_id__in=chunk).values_list("external_id", "pk"))
    return found


def _import_gold(project, rows, items, labels, listed, result: VotesImport) -> None:  # type: ignore[no-untyped-def]
    current = dict(Item.objects.filter(project=project, gold__isnull=False).values_list("pk", "gold"))
    updates: dict[str, list[int]] = {}
    for n, row in rows:
        key = _checked_key(result, "gold.csv", n, row, items, labels, listed)
        if key is None:
            continue
        if current.get(items[row["item"]], key) != key:
            _err(result, "gold.csv", n, "label", f"item {row['item']!r} already has gold {current[items[row['item']]]!r}")
        elif items[row["item"]] not in current:
            current[items[row["item"]]] = key
            updates.setdefault(key, []).append(items[row["item"]])
    for key, pks in updates.items():
        for start in range(0, len(pks), BATCH):
            Item.objects.filter(pk__in=pks[start : start + BATCH]).update(gold=key)
            result.gold_set += len(pks[start : start + BATCH])


def _import_votes(project, rows, items, labels, listed, result: VotesImport, now) -> None:  # type: ignore[no-untyped-def]
    # Locked until the import commits, so a suspension waits for it and then sees its votes.
    annotators = Voter.objects.select_for_update().filter(project=project, kind=VoterKind.EXTERNAL)
    known = dict(annotators.values_list("name", "pk"))
    suspended = set(annotators.filter(suspended_at__isnull=False).values_list("name", flat=True))
    existing = {
        (e, i): v
        for e, i, v in Vote.objects.filter(project=project, voter__kind=VoterKind.EXTERNAL, kind=VoteKind.VOTE).values_list(
            "voter_id", "item_id", "value"
        )
    }
    seen: dict[tuple[str, int], str] = {}
    good: list[tuple[str, int, str]] = []
    for n, row in rows:
        key = _checked_key(result, "votes.csv", n, row, items, labels, listed)
        if key is None:
            continue
        if row["annotator"] in suspended:
            _err(result, "votes.csv", n, "annotator", f"{row['annotator']!r} is suspended in this project; their votes are not imported")
            continue
        pair = (row["annotator"], items[row["item"]])
        earlier = seen.get(pair)
        if earlier is None and row["annotator"] in known:
            earlier = existing.get((known[row["annotator"]], pair[1]))
        if earlier is None:
            seen[pair] = key
            good.append((row["annotator"], pair[1], key))
        elif earlier == key:
            result.unchanged += 1
        else:
            _err(result, "votes.csv", n, "label",
                 f"{row['annotator']!r} already answered {earlier!r} on item {row['item']!r}; votes are append-only")  # fmt: skip
    names = {name for name, _, _ in good}
    result.annotators_created = len(names - set(known))
    known = voters_external_ensure(project=project, names=sorted(names))
    version_id = project.current_rulebook_id
    for start in range(0, len(good), BATCH):
        result.votes_created += len(
            Vote.objects.bulk_create(
                [
                    Vote(
                        project=project, item_id=item_id, voter_id=known[name], rulebook_version_id=version_id,
                        kind=VoteKind.VOTE, value=key, client_id=f"import-{known[name]}-{item_id}", created_at=now,
                    )  # fmt: skip
                    for name, item_id, key in good[start : start + BATCH]
                ]
            )
        )
    transitions.items_votes_recount(project=project, item_ids=sorted({item_id for _, item_id, _ in good}))


def project_create_for_votes(
    *, actor: AbstractBaseUser | None, slug: str, votes: bytes, name: str = ""
) -> Project:
    """A single-choice text project whose rulebook's labels are the distinct labels in ``votes``
    (keys made safe, names as written), published as v1."""
    rows, _ = _read_csv(votes, file="votes.csv", columns=("item", "annotator", "label"))
    distinct = sorted({row["label"] for _, row in rows if row["label"]})
    if len(distinct) < 2:
        raise ValidationFailed("votes.csv needs at least two distinct labels to make a rulebook.")
    keys: list[str] = []
    for label in distinct:
        key = label.lower() if KEY_RE.match(label.lower()) else (slugify(label)[:50] or "label")
        while key in keys:
            key = f"{key[:45]}-{len(keys)}"
        keys.append(key)
    with transaction.atomic():
        project = projects_services.project_create(
            actor=actor, name=name or slug, slug=slug, exact_slug=True, item_kind=ItemKind.TEXT, question_type=QuestionType.SINGLE
        )
        rulebook = [
            {"key": key, "name": label, "definition": f"Imported label {label!r}.", "hotkey": str(n + 1) if n < 9 else ""}
            for n, (key, label) in enumerate(zip(keys, distinct, strict=True))
        ]
        rulebook_services.rulebook_draft_save(
            actor=actor, project=project, guidelines="Labels imported with existing votes.",
            unclear_instructions="", do_not_label="", labels=rulebook,
        )  # fmt: skip
        rulebook_services.rulebook_publish(actor=actor, project=project, change_note="Imported with votes.")
    return Project.objects.select_related("current_rulebook").get(pk=project.pk)

