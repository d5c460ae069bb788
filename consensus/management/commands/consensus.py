"""python manage.py consensus SLUG [--method NAME] [--json]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.projects.models import Project
from consensus import aggregation
from consensus.decisions.services import consensus_reestimate


class Command(BaseCommand):
    help = "Aggregate every current vote of a project, re-estimate annotator reliabilities and decide its items."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the project's slug")
        parser.add_argument(
            "--method", default=aggregation.DEFAULT_METHOD, choices=sorted(aggregation.METHODS),
            help=f"aggregation method (default {aggregation.DEFAULT_METHOD})",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, slug: str, method: str, json: bool, **options: Any) -> None:
        project = Project.objects.select_related("current_rulebook").filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project with slug {slug!r}.")
        summary = consensus_reestimate(project=project, method=method)
        if json:
            self.stdout.write(_dumps(summary.as_dict()))
            return
        self.stdout.write(
            f"{project.slug} ({method}): {summary.items} items, {summary.votes} votes, alpha {summary.alpha}; "
            f"{summary.promoted} promoted, {summary.need_more} need more votes, {summary.review} to review, "
            f"{summary.collapsed} collapsed; {summary.ground_truth} ground truth in all "
            f"({summary.iterations} iterations, {summary.seconds} s)"
        )


def _dumps(value: Any) -> str:
    return json.dumps(value)
