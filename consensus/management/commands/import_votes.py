"""python manage.py import_votes SLUG VOTES.csv [--gold GOLD.csv] [--create]"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.exceptions import Conflict, ValidationFailed
from annotation.imports.votes import project_create_for_votes, votes_import
from annotation.projects.models import Project


class Command(BaseCommand):
    help = (
        "Import votes cast elsewhere (CSV: item,annotator,label) and optional gold answers (CSV: item,label). "
        "Annotators become external identities of the project, not logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the project's slug")
        parser.add_argument("votes", help="votes.csv with the columns item,annotator,label")
        parser.add_argument("--gold", help="gold.csv with the columns item,label")
        parser.add_argument(
            "--create", action="store_true",
            help="create a single-choice project with this slug whose labels are the distinct labels in the file "
            "(and the items in it)",
        )  # fmt: skip
        parser.add_argument("--admin", help="username to make the new project's admin (default: the first superuser)")
        parser.add_argument("--max-errors", type=int, default=50, help="how many bad rows to print")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def handle(self, *args: Any, slug: str, votes: str, gold: str | None, create: bool, admin: str | None,
               max_errors: int, json: bool, **options: Any) -> None:  # fmt: skip
        votes_bytes = _read(votes)
        gold_bytes = _read(gold) if gold else None
        try:
            project = Project.objects.select_related("current_rulebook").filter(slug=slug).first()
            if create:
                if project is not None:
                    raise CommandError(f"A project with slug {slug!r} already exists; drop --create to add to it.")
                project = project_create_for_votes(actor=_admin(admin), slug=slug, votes=votes_bytes)
            elif project is None:
                raise CommandError(f"No project with slug {slug!r} (use --create to make one from the file).")
            result = votes_import(actor=None, project=project, votes=votes_bytes, gold=gold_bytes, create_items=create)
        except (ValidationFailed, Conflict) as exc:
            raise CommandError(exc.message) from None
        for err in result.errors[:max_errors]:
            self.stderr.write(f"{err['file']} row {err['row']}: {err['field']}: {err['reason']}")
        if len(result.errors) > max_errors:
            self.stderr.write(f"… and {len(result.errors) - max_errors} more bad rows.")
        if json:
            self.stdout.write(_json(result.as_dict()))
            return
        c = result.consensus
        self.stdout.write(
            f"{project.slug}: {result.rows} rows, {result.votes_created} votes imported, {result.unchanged} already "
            f"there, {len(result.errors)} errors; {result.items_created} items and {result.annotators_created} "
            f"annotators created; {result.gold_set} gold."
        )
        if c is not None:
            self.stdout.write(
                f"consensus ({c.method}): {c.promoted} promoted, {c.need_more} need more votes, {c.review} to review; "
                f"alpha {c.alpha}"
            )


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None


def _admin(username: str | None) -> Any:
    users = get_user_model().objects
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        return user
    return users.filter(is_superuser=True).order_by("pk").first()


def _json(value: Any) -> str:
    return json.dumps(value, default=str)
