"""Reads on voters: who is suspended, and what voters are called."""

from __future__ import annotations

from annotation.voters.models import Voter, display_name


def suspended_voter_ids(*, project_id: int) -> set[int]:
    """Ids of the project's suspended voters: their votes do not count."""
    return set(Voter.objects.filter(project_id=project_id, suspended_at__isnull=False).values_list("pk", flat=True))


def voter_names(*, voter_ids: list[int]) -> list[str]:
    """Display names of these voters, in the same order; for admins and reviewers only."""
    rows = Voter.objects.filter(pk__in=voter_ids).values_list("pk", "kind", "user__username", "name")
    names = {pk: display_name(kind=kind, username=username, name=name) for pk, kind, username, name in rows}
    return [names.get(v, f"voter {v}") for v in voter_ids]
