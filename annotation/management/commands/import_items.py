"""python manage.py import_items SLUG PATH — import a JSONL, CSV, text, zip file or a folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.exceptions import ValidationFailed
from annotation.imports import services as imports
from annotation.projects.models import Project


class Command(BaseCommand):
    help = "Import items into a project from a JSONL, CSV, text or zip file, or a folder of images."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the project's slug")
        parser.add_argument("path", help="a .jsonl, .csv, .txt, .zip or image file, or a folder")
        parser.add_argument("--max-errors", type=int, default=50, help="how many bad rows to print")

    def handle(self, *args: Any, slug: str, path: str, max_errors: int, **options: Any) -> None:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with slug {slug!r}.")
        source = Path(path)
        try:
            job = imports.import_create(actor=None, project=project, name=source.name or path, path=source)
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        started = time.perf_counter()
        job = imports.import_run(job_id=job.pk)
        seconds = time.perf_counter() - started
        for err in job.errors[:max_errors]:
            self.stderr.write(f"{err['row']}: {err['field']}: {err['reason']}")
        if job.failed > max_errors:
            self.stderr.write(f"… and {job.failed - max_errors} more bad rows (see the import page).")
        if job.message:
            self.stderr.write(job.message)
        rate = job.total / seconds if seconds else 0.0
        self.stdout.write(
            f"{job.source_name}: {job.total} rows, {job.created} imported, {job.skipped} skipped, "
            f"{job.failed} errors in {seconds:.2f} s ({rate:,.0f} rows/s)"
        )
        if job.status == "failed":
            raise CommandError("The import stopped early.")
