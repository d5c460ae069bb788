"""Import of items: create a job, run it (inline or as a background task), report each row.

Good rows are kept and bad rows are reported with their line or file name, field and reason:
an import is committed batch by batch, never rolled back as a whole. Re-importing the same
external id or the same content is reported as skipped, never duplicated.

Why over 400 lines: An import job's stages (start, read, check, insert, finish) share the run's state (``_Run``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from annotation import bulk, events
from annotation.answers.choice import AnswerInvalid, check_gold
from annotation.curation import measures as curation
from annotation.curation import services as curation_services
from annotation.exceptions import ValidationFailed
from annotation.imports.models import ImportJob, ImportStatus
from annotation.ingest import readers as ingest
from annotation.items.models import Item, ItemState
from annotation.projects.models import ItemKind, Project, QuestionType
from annotation.projects.services import audit_record
from annotation.rulebook.selectors import rulebook_current

log = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 10_000
MAX_REPORTED_SKIPS = 1_000
TEXT_BATCH = 10_000  # SQLite allows 32,766 parameters: the duplicate lookup uses 2 a row
IMAGE_BATCH = 50
BATCH_BYTES = 64 * 1024**2  # a batch is written sooner when its rows hold this much (long lines, large images)


def import_limits() -> ingest.Limits:
    return ingest.Limits(
        image_bytes=settings.QUORUM_MAX_IMAGE_BYTES,
        image_pixels=settings.QUORUM_MAX_IMAGE_PIXELS,
        zip_entries=settings.QUORUM_MAX_ZIP_ENTRIES,
        zip_total_bytes=settings.QUORUM_MAX_ZIP_TOTAL_BYTES,
        line_bytes=settings.QUORUM_MAX_LINE_BYTES,
        csv_columns=settings.QUORUM_MAX_CSV_COLUMNS,
        json_depth=settings.QUORUM_MAX_JSON_DEPTH,
        manifest_bytes=settings.QUORUM_MAX_MANIFEST_BYTES,
        thumbnail_size=settings.QUORUM_THUMBNAIL_SIZE,
    )


def _uploads_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_create(
    *,
    actor: AbstractBaseUser | None,
    project: Project,
    name: str,
    upload: BinaryIO | None = None,
    path: Path | None = None,
) -> ImportJob:
    """Register an import of an uploaded file (copied into the media folder) or of a local
    file or folder (read in place; for the command line). The format comes from the name."""
    fmt = ingest.detect_format(name, is_dir=path is not None and path.is_dir())
    if fmt is None:
        raise ValidationFailed(
            f"{name!r} is not a format Quorum imports.",
            [{"row": name, "field": "file",
              "reason": "use .jsonl, .csv, .txt, .zip, a folder, or a JPEG/PNG/WebP/TIFF image"}],
        )  # fmt: skip
    if upload is not None:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(name))[-100:]
        stored = _uploads_dir() / f"{uuid.uuid4().hex}-{safe}"
        size = 0
        with stored.open("wb") as out:
            for chunk in iter(lambda: upload.read(1024 * 1024), b""):
                size += len(chunk)
                if size > settings.QUORUM_MAX_UPLOAD_BYTES:
                    out.close()
                    stored.unlink(missing_ok=True)
                    raise ValidationFailed(
                        "The upload is too large.",
                        [{"row": name, "field": "file",
                          "reason": f"over the limit of {settings.QUORUM_MAX_UPLOAD_BYTES // 1024**2} MB"}],
                    )  # fmt: skip
                out.write(chunk)
        source, delete = stored, True
    elif path is not None:
        if not path.exists():
            raise ValidationFailed(f"No such file or folder: {path}")
        source, delete = path.resolve(), False
    else:
        raise ValueError("import_create needs an upload or a path")
    job = ImportJob.objects.create(
        project=project,
        created_by=actor,
        source_name=os.path.basename(name.rstrip("/")) or name,
        source_path=str(source),
        delete_source=delete,
        format=fmt,
    )
    audit_record(
        project=project, actor=actor, verb="import.create", obj=job,
        after={"source": job.source_name, "format": fmt},
    )  # fmt: skip
    return job


def import_start(*, job: ImportJob, background: bool | None = None) -> ImportJob:
    """Run the import now, or hand it to the task backend once the job row is committed.

    Only an import that reads at most ``QUORUM_IMPORT_INLINE_BYTES`` runs within the request,
    so the caller can show its result at once; a larger one always goes to the background,
    ``background=False`` or not. The size is what will be read — a zip's uncompressed size, not
    its upload's: a zip of 1 MB can hold a gigabyte. ``background=True`` sends even a small one.
    With the immediate backend (the test suite's) the task also runs in-process.
    """
    from annotation.tasks import import_run_task

    size = ingest.source_bytes(Path(job.source_path), job.format)
    background = bool(background) or size > settings.QUORUM_IMPORT_INLINE_BYTES
    if not background:
        return import_run(job_id=job.pk)
    transaction.on_commit(lambda: import_run_task.enqueue(job_id=job.pk))
    # Outside a transaction on_commit runs at once (and the immediate backend runs the task):
    # answer with the job as it is now.
    job.refresh_from_db()
    return job


# --- running an import -----------------------------------------------------------------------------


@dataclass
class _Candidate:
    row: ingest.Row
    content_hash: str
    image: ingest.CheckedImage | None = None


class _Gold:
    """Checks gold answers against the current published rulebook, if there is one."""

    def __init__(self, project: Project) -> None:
        current = rulebook_current(project=project)
        self.version = current.number if current else None
        self.keys = current.label_keys if current else None
        self.multi = project.question_type == QuestionType.MULTI

    def check(self, gold: Any) -> Any:
        """The gold value as stored, or ``AnswerInvalid``."""
        return check_gold(gold, self.keys, multi=self.multi, version=self.version)


# Columns written by an import, in the order of the rows built in ``_Run.flush``.
_INSERT_FIELDS = (
    "project", "external_id", "kind", "text", "image", "thumbnail", "width", "height",
    "content_hash", "metadata", "gold", "state", "priority", "votes_count", "leased_count",
    "extra_votes", "import_job", "created_at", "near_hash", "sharpness", "brightness", "colour_r", "colour_g",
    "flags", "curation", "excluded_from",
)  # fmt: skip


def _existing_items(project_id: int, ids: list[str], hashes: list[str]) -> list[tuple[str, str, int]]:
    """(external_id, content_hash, pk) of the project's items with one of these ids or hashes.

    Raw SQL because the ORM spends more time preparing 10,000 ``IN`` parameters than the
    database spends answering; PostgreSQL gets two array parameters instead of a long list.
    """
    meta = Item._meta
    quote = connection.ops.quote_name
    ext, digest, project = (quote(meta.get_field(n).column) for n in ("external_id", "content_hash", "project"))
    head = f"SELECT {ext}, {digest}, {quote(meta.pk.column)} FROM {quote(meta.db_table)} WHERE {project} = %s AND "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(head + f"({ext} = ANY(%s) OR {digest} = ANY(%s))", [project_id, ids, hashes])
        else:
            cursor.execute(
                head + f"({ext} IN ({', '.join(['%s'] * len(ids)) or 'NULL'}) "
                f"OR {digest} IN ({', '.join(['%s'] * len(hashes))}))",
                [project_id, *ids, *hashes],
            )
        return cursor.fetchall()


def _insert_items(rows: list[tuple[Any, ...]]) -> int:
    """Insert item rows; rows that hit a unique constraint (a concurrent import of the same id
    or content) are left out. Returns how many went in. A batch lost in a crash is imported
    again by running the import again (duplicates are skipped), so its commit need not wait for
    the WAL flush."""
    return bulk.insert_new_rows(Item, _INSERT_FIELDS, rows, durable=False)


class _Run:
    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.project = job.project
        self.limits = import_limits()
        self.gold = _Gold(self.project)
        self.seen_ids: set[str] = set()
        self.seen_hashes: dict[str, str] = {}  # content hash -> where it was first seen
        self.batch: list[_Candidate] = []
        self.batch_bytes = 0
        self.errors: list[dict[str, str]] = []
        self.skips: list[dict[str, str]] = []
        self.token_cache: dict[str, int] = {}
        self.same = (
            " (the same text, ignoring case, spacing and Unicode form)" if self.project.item_kind == ItemKind.TEXT
            else " (the same file content)"
        )  # fmt: skip

    def error(self, where: str, field: str, reason: str) -> None:
        self.job.failed += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"row": where, "field": field, "reason": reason})

    def skip(self, where: str, reason: str) -> None:
        self.job.skipped += 1
        if len(self.skips) < MAX_REPORTED_SKIPS:
            self.skips.append({"row": where, "reason": reason})

    def add(self, row: ingest.Row, checked: ingest.CheckedImage | ingest.ImageRejected | None) -> None:
        """Take one row, whose image (if any) ``ingest.check_images_ahead`` has checked."""
        kind = self.project.item_kind
        if kind == ItemKind.TEXT and row.text is None:
            return self.error(row.where, "text", "this project labels text; the row has an image")
        if kind == ItemKind.IMAGE and row.image_bytes is None:
            return self.error(row.where, "image", "this project labels images; the row has text")
        try:
            gold = self.gold.check(row.gold)
        except AnswerInvalid as exc:
            return self.error(row.where, exc.field, exc.message)
        row.gold = gold
        if row.external_id and row.external_id in self.seen_ids:
            return self.skip(row.where, f"id {row.external_id!r} appears earlier in this import")
        if row.text is not None:
            digest = ingest.text_hash(row.text)
            image = None
        else:
            if isinstance(checked, ingest.ImageRejected):
                return self.error(row.where, "image", checked.reason)
            if checked is None:  # every image row of an image project comes checked
                raise RuntimeError(f"{row.where}: image was not checked")
            image = checked
            digest = image.sha256
        if digest in self.seen_hashes:
            return self.skip(row.where, f"exact duplicate of {self.seen_hashes[digest]} in this import{self.same}")
        if row.external_id:
            self.seen_ids.add(row.external_id)
        self.seen_hashes[digest] = row.where
        self.batch.append(_Candidate(row=row, content_hash=digest, image=image))
        self.batch_bytes += row.size + len(row.image_bytes or b"")
        if len(self.batch) >= (TEXT_BATCH if kind == ItemKind.TEXT else IMAGE_BATCH) or self.batch_bytes >= BATCH_BYTES:
            self.flush()

    def _store_image(self, cand: _Candidate) -> tuple[str, str]:
        image = cand.image
        assert image is not None and cand.row.image_bytes is not None
        h = image.sha256
        name = f"items/{self.project.pk}/{h[:2]}/{h}.{image.extension}"
        thumb = f"thumbs/{self.project.pk}/{h[:2]}/{h}.jpg"
        # Content-addressed names: a file that is already there is the same file.
        if not default_storage.exists(name):
            name = default_storage.save(name, ContentFile(cand.row.image_bytes))
        if not default_storage.exists(thumb):
            thumb = default_storage.save(thumb, ContentFile(image.thumbnail_jpeg))
        return name, thumb

    def flush(self) -> None:
        if not self.batch:
            return
        ids = [c.row.external_id for c in self.batch if c.row.external_id]
        hashes = [c.content_hash for c in self.batch]
        existing_ids: set[str] = set()
        existing_hashes: dict[str, str] = {}
        for ext, digest, pk in _existing_items(self.project.pk, ids, hashes):
            existing_ids.add(ext)
            existing_hashes[digest] = ext or f"#{pk}"
        created_at = connection.ops.adapt_datetimefield_value(timezone.now())
        project_id, kind, job_id = self.project.pk, self.project.item_kind, self.job.pk
        new_rows: list[tuple[Any, ...]] = []
        wheres: list[str] = []
        if kind == ItemKind.TEXT:
            signatures = curation.simhash_texts([c.row.text or "" for c in self.batch], self.token_cache)
        for n, cand in enumerate(self.batch):
            row = cand.row
            if row.external_id and row.external_id in existing_ids:
                self.skip(row.where, f"id {row.external_id!r} is already in the project")
                continue
            if cand.content_hash in existing_hashes:
                self.skip(row.where, f"exact duplicate of item {existing_hashes[cand.content_hash]!r}{self.same}")
                continue
            image_name = thumb_name = ""
            width = height = sharp = bright = None
            colour: tuple[float, float] | tuple[None, None] = (None, None)
            metadata = row.metadata
            if cand.image is not None:
                try:
                    image_name, thumb_name = self._store_image(cand)
                except OSError as exc:
                    self.error(row.where, "image", f"could not be stored: {exc}")
                    continue
                width, height = cand.image.width, cand.image.height
                measures = cand.image.measures
                near, sharp, bright = measures.phash, measures.sharpness, measures.brightness
                colour = measures.colour or (None, None)
                # EXIF fields sit beside the row's own metadata (which wins), so the items
                # page filters on them like on any other field.
                metadata = {**{f"exif_{k}": v for k, v in curation.flat_exif(measures.exif).items()}, **metadata}
            else:
                near = int(signatures[n])
            wheres.append(row.where)
            new_rows.append(
                (
                    project_id, row.external_id, kind, row.text or "", image_name, thumb_name,
                    width, height, cand.content_hash,
                    json.dumps(metadata),
                    None if row.gold is None else json.dumps(row.gold),
                    ItemState.QUEUED, 0.0, 0, 0, 0, job_id, created_at,
                    curation_services.signed(near), sharp, bright, *colour, "{}", "", "",
                )
            )  # fmt: skip
        inserted = self._insert(new_rows, wheres)
        self.job.created += inserted
        self.batch = []
        self.batch_bytes = 0
        self.save_progress()

    def _insert(self, rows: list[tuple[Any, ...]], wheres: list[str]) -> int:
        """Insert a batch; if the database refuses it, insert row by row so that only the rows
        it refuses are reported and every other row is kept."""
        try:
            with transaction.atomic():
                inserted = _insert_items(rows)
        except DatabaseError:
            log.warning("import %s: a batch was refused; inserting row by row", self.job.pk, exc_info=True)
            inserted = 0
            for row, where in zip(rows, wheres, strict=True):
                try:
                    with transaction.atomic():
                        went_in = _insert_items([row])
                except DatabaseError as exc:
                    self.error(where, "row", f"the database refused this row: {str(exc).splitlines()[0][:200]}")
                    continue
                inserted += went_in
                if not went_in:
                    self.skip(where, "another import added the same id or content meanwhile")
            return inserted
        if inserted < len(rows):
            self.job.skipped += len(rows) - inserted  # another import got there first
        return inserted

    def save_progress(self, **extra: Any) -> None:
        fields = {
            "total": self.job.total,
            "created": self.job.created,
            "skipped": self.job.skipped,
            "failed": self.job.failed,
            "errors": self.errors,
            "skipped_rows": self.skips,
            **extra,
        }
        ImportJob.objects.filter(pk=self.job.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.job, name, value)
        events.import_progress(self.job.project_id, job=self.job.pk, status=extra.get("status", self.job.status),
                               total=self.job.total, created=self.job.created, skipped=self.job.skipped,
                               failed=self.job.failed)  # fmt: skip


def import_run(*, job_id: int) -> ImportJob:
    """Read the job's source and import its rows. Safe to call on a finished job (no-op)."""
    job = ImportJob.objects.select_related("project").get(pk=job_id)
    if job.is_finished:
        return job
    job.status = ImportStatus.RUNNING
    job.started_at = timezone.now()
    job.save(update_fields=["status", "started_at"])
    run = _Run(job)
    is_image = job.project.item_kind == ItemKind.IMAGE
    workers = max(1, settings.QUORUM_IMPORT_THREADS) if is_image else 0
    try:
        rows = ingest.read_source(Path(job.source_path), job.format, run.limits, job.source_name)
        for row, checked in ingest.check_images_ahead(rows, run.limits, workers=workers):
            job.total += 1
            if isinstance(row, ingest.RowError):
                run.error(row.where, row.field, row.reason)
            else:
                run.add(row, checked)
        run.flush()
        status, message = ImportStatus.DONE, ""
        if not job.created and not job.skipped:
            message = "Nothing was imported: " + (
                "every row was refused; the reasons are below." if job.total
                else "the upload holds no rows" + (", and no images Quorum reads (JPEG, PNG, WebP, TIFF)." if is_image else ".")
            )  # fmt: skip
    except Exception as exc:  # the rows already committed stay; say where it stopped
        log.exception("import %s failed", job.pk)
        run.batch = []
        status = ImportStatus.FAILED
        message = f"The import stopped after {job.total} rows: {exc.__class__.__name__}: {exc}"
    if job.created:
        # Clusters and flags over the whole project, new items with old: a near-duplicate
        # of an item imported last week is found too. Part of the import's task.
        try:
            curation_services.curation_run(project=job.project, actor=job.created_by)
        except Exception as exc:  # the items stay imported; curation can be run again from its page
            log.exception("import %s: curation failed", job.pk)
            message = (message + " " if message else "") + f"Curation did not run: {exc.__class__.__name__}: {exc}"
    run.save_progress(status=status, message=message, finished_at=timezone.now())
    if connection.vendor == "postgresql" and job.created >= 1000:
        # Fresh statistics, so the queue's plans fit the new size at once (autovacuum is slower).
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {connection.ops.quote_name(Item._meta.db_table)}")
    if job.delete_source:
        Path(job.source_path).unlink(missing_ok=True)
    audit_record(
        project=job.project, actor=job.created_by, verb="import.finish", obj=job,
        after={"status": status, "total": job.total, "created": job.created,
               "skipped": job.skipped, "failed": job.failed},
    )  # fmt: skip
    return job
