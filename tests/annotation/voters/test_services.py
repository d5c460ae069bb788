"""Voters: made with memberships and imports, kept across membership changes, named, and what
suspension acts on."""

from __future__ import annotations

import pytest
from django.test import Client

from annotation.exceptions import Suspended
from annotation.labeling import services as labeling
from annotation.projects import selectors as projects_selectors
from annotation.projects import services as projects_services
from annotation.projects.models import Membership, Role
from annotation.voters.models import Voter, VoterKind
from annotation.voters.selectors import suspended_voter_ids, voter_names
from annotation.voters.services import voters_external_ensure
from tests.annotation.labeling.test_services import add_items, vote
from tests.conftest import publish


def test_every_member_votes_as_a_voter_made_with_the_membership(team):
    members = Membership.objects.filter(project=team.project).select_related("voter")
    assert {(m.user_id, m.voter.user_id, m.voter.project_id, m.voter.kind) for m in members} == {
        (u.pk, u.pk, team.project.pk, VoterKind.MEMBER) for u in (team.admin, team.reviewer, team.annotator)
    }
    # The outsider's own project gives them a voter there, and none here.
    assert not Voter.objects.filter(project=team.project, user=team.outsider).exists()
    assert Voter.objects.filter(project=team.other_project, user=team.outsider).count() == 1


def test_a_member_who_leaves_and_comes_back_is_the_same_voter_with_their_votes(team):
    publish(team, "cat", "dog")
    add_items(team.project, 1)
    cast = vote(team, team.annotator, labeling.item_lease_next(project=team.project, annotator=team.annotator)).vote
    before = Voter.objects.get(project=team.project, user=team.annotator)
    projects_services.member_remove(actor=team.admin, project=team.project, user_id=team.annotator.pk)
    assert Voter.objects.filter(pk=before.pk).exists() and cast.voter_id == before.pk
    again = projects_services.member_add(actor=team.admin, project=team.project, username=team.annotator.username, role=Role.ANNOTATOR)
    assert again.voter_id == before.pk
    assert Voter.objects.filter(project=team.project, user=team.annotator).count() == 1


def test_the_access_check_reads_the_voter_in_its_one_query(team, django_assert_num_queries):
    with django_assert_num_queries(1):
        access = projects_selectors.access_project(user=team.annotator, slug=team.project.slug)
        voter = access.voter
        assert (voter.user_id, voter.suspended_at) == (team.annotator.pk, None)


def test_imported_annotators_are_voters_of_their_project_only(team):
    first = voters_external_ensure(project=team.project, names=["w1", "w2"])
    again = voters_external_ensure(project=team.project, names=["w2", "w3"])
    elsewhere = voters_external_ensure(project=team.other_project, names=["w1"])
    assert set(again) == {"w1", "w2", "w3"} and again["w1"] == first["w1"] and again["w2"] == first["w2"]
    assert elsewhere["w1"] != first["w1"]
    assert Voter.objects.filter(project=team.project, kind=VoterKind.EXTERNAL).count() == 3
    member = Voter.objects.get(project=team.project, user=team.annotator)
    assert voter_names(voter_ids=[again["w3"], member.pk]) == ["w3 (imported)", team.annotator.username]


def test_admins_suspend_and_reinstate_a_voter_by_its_id_and_the_vote_path_sees_it(team):
    publish(team, "cat", "dog")
    add_items(team.project, 1)
    voter = Voter.objects.get(project=team.project, user=team.annotator)
    admin = Client()
    admin.force_login(team.admin)
    base = f"/p/{team.project.slug}/annotators/{voter.pk}"
    assert admin.post(f"{base}/suspend/", {"reason": "random answers"}).status_code == 302
    voter.refresh_from_db()
    assert (voter.suspended_reason, voter.suspended_by_id) == ("random answers", team.admin.pk)
    assert suspended_voter_ids(project_id=team.project.pk) == {voter.pk}
    with pytest.raises(Suspended):
        labeling.item_lease_next(project=team.project, annotator=team.annotator)
    assert admin.post(f"{base}/reinstate/").status_code == 302
    assert suspended_voter_ids(project_id=team.project.pk) == set()
    assert labeling.item_lease_next(project=team.project, annotator=team.annotator) is not None
    # A voter of another project is no annotator of this one.
    stranger = Voter.objects.get(project=team.other_project, user=team.outsider)
    assert admin.post(f"/p/{team.project.slug}/annotators/{stranger.pk}/suspend/", {"reason": "x"}).status_code == 404
    assert Voter.objects.get(pk=stranger.pk).suspended_at is None
