"""python manage.py export SLUG --format csv|jsonl [--all-items] [-o FILE]"""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.projects.models import Project
from consensus.decisions.selectors import EXPORT_COLUMNS, ground_truth_export


class Command(BaseCommand):
    help = "Write a project's ground truth with its provenance as CSV or JSONL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the project's slug")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
        parser.add_argument(
            "--all-items", action="store_true",
            help="also write undecided items with their current best label, posterior and state",
        )  # fmt: skip
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args: Any, slug: str, format: str, all_items: bool, output: str | None, **options: Any) -> None:
        project = Project.objects.select_related("current_rulebook").filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with slug {slug!r}.")
        records = ground_truth_export(project=project, all_items=all_items)
        out = open(output, "w", newline="", encoding="utf-8") if output else self.stdout  # noqa: SIM115
        try:
            n = write(records, out, format)
        finally:
            if output:
                out.close()
        if output:
            self.stderr.write(f"{n} items written to {output}")


def write(records: Any, out: Any, format: str) -> int:
    n = 0
    if format == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
            n += 1
    else:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n
