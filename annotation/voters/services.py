"""Writes on voters: the voter of a member, the voters of imported annotators."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser

from annotation.projects.models import Project
from annotation.voters.models import Voter, VoterKind


def voter_for_member(*, project: Project, user: AbstractBaseUser) -> Voter:
    """The member's voter in the project, created the first time they join. A member who
    left and comes back gets their old voter, votes and suspension included."""
    voter, _ = Voter.objects.get_or_create(project=project, user=user, defaults={"kind": VoterKind.MEMBER})
    return voter


def voters_external_ensure(*, project: Project, names: list[str]) -> dict[str, int]:
    """Voter ids of the project's imported annotators by name, creating those in ``names`` that
    are new. Expects the caller to hold the lock ``votes_import`` takes on them."""
    known = dict(Voter.objects.filter(project=project, kind=VoterKind.EXTERNAL).values_list("name", "pk"))
    new = sorted(set(names) - set(known))
    if new:
        Voter.objects.bulk_create([Voter(project=project, kind=VoterKind.EXTERNAL, name=n) for n in new], batch_size=5000)
        known = dict(Voter.objects.filter(project=project, kind=VoterKind.EXTERNAL).values_list("name", "pk"))
    return known
