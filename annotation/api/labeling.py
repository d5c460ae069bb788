"""The annotator's API. The hot path is one request per vote: the vote's answer carries the
next item, so the page never waits between items (see docs/performance.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.projects import ERRORS, api_access
from annotation.api.serializers import Boolean, ItemId
from annotation.labeling import selectors as labeling_selectors
from annotation.labeling import services as labeling
from annotation.labeling.models import Lease, Vote, VoteKind
from annotation.projects.models import ItemKind

CONFLICTS = {
    409: OpenApiResponse(
        description="`code` says why: `not_assigned`, `lease_expired`, `rulebook_changed` (reload the page), "
        "`already_voted`, `no_rulebook`, `suspended` (an admin paused you), `answer_final` (undo of a gold "
        "answer after its feedback), `conflict`."
    )
}


def assignment_data(lease: Lease | None, slug: str) -> dict[str, Any] | None:
    """What an annotator sees of a leased item: never votes, consensus, gold, or its external
    id (file names and source ids often give the answer away)."""
    if lease is None:
        return None
    item = lease.item
    return {
        "item": {
            "id": item.pk,
            "kind": item.kind,
            "text": item.text if item.kind == "text" else None,
            "image_url": f"/p/{slug}/items/{item.pk}/image" if item.image else None,
            "width": item.width,
            "height": item.height,
        },
        "expires_at": lease.expires_at,
        "rulebook_version": lease.rulebook_version.number,
    }


def vote_data(vote: Vote) -> dict[str, Any]:
    return {
        "id": vote.pk,
        "item": vote.item_id,
        "kind": vote.kind,
        "value": vote.value,
        "unsure": vote.unsure,
        "claim": vote.claim,
        "client_id": vote.client_id,
        "supersedes": vote.supersedes_id,
        "created_at": vote.created_at,
    }


class AssignmentSerializer(serializers.Serializer):
    item = inline_serializer(
        "AssignedItem",
        {
            "id": serializers.IntegerField(),
            "kind": serializers.ChoiceField(ItemKind.choices),
            "text": serializers.CharField(allow_null=True),
            "image_url": serializers.CharField(allow_null=True),
            "width": serializers.IntegerField(allow_null=True),
            "height": serializers.IntegerField(allow_null=True),
        },
    )
    expires_at = serializers.DateTimeField()
    rulebook_version = serializers.IntegerField()


class VoteOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    kind = serializers.ChoiceField(VoteKind.choices)
    value = serializers.JSONField(allow_null=True)
    unsure = serializers.BooleanField()
    claim = serializers.CharField()
    client_id = serializers.CharField()
    supersedes = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class NextInSerializer(serializers.Serializer):
    exclude = serializers.ListField(
        child=ItemId(), required=False, default=list, max_length=20,
        help_text="Items the page already shows (the current and the prefetched one).",
    )  # fmt: skip


class NextOutSerializer(serializers.Serializer):
    assignment = AssignmentSerializer(allow_null=True, help_text="null when nothing is left for you.")


class VoteInSerializer(serializers.Serializer):
    item = ItemId()
    client_id = serializers.RegexField(r"^[A-Za-z0-9_.:-]{8,64}$", help_text="A fresh random id per answer (a UUID); retries reuse it.")
    value = serializers.JSONField(required=False, allow_null=True, default=None, help_text="A label key, or a list of keys for multiple choice.")
    unsure = Boolean(required=False, default=False)
    claim = serializers.ChoiceField(["", "no_fit", "do_not_label"], required=False, default="")
    claim_reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    time_spent_ms = serializers.IntegerField(required=False, default=0, min_value=0, max_value=86_400_000)
    next = NextInSerializer(required=False, allow_null=True, default=None, help_text="Ask for the next item in the same request.")


class VoteResultSerializer(serializers.Serializer):
    vote = VoteOutSerializer()
    next = AssignmentSerializer(allow_null=True)
    feedback = inline_serializer(
        "GoldFeedback",
        {
            "correct": serializers.BooleanField(),
            "labels": serializers.ListField(child=serializers.DictField(), help_text="Rulebook entry of each right label."),
        },
        allow_null=True,
        help_text="Only after a gold (check) item, and only when the project gives gold feedback.",
    )


class UndoInSerializer(serializers.Serializer):
    client_id = serializers.RegexField(r"^[A-Za-z0-9_.:-]{8,64}$")
    item = ItemId(required=False, allow_null=True, default=None, help_text="The item whose vote to undo; by default your last vote.")


class UndoOutSerializer(serializers.Serializer):
    retraction = VoteOutSerializer()
    assignment = AssignmentSerializer(help_text="The item again, to answer anew.")


class HeartbeatInSerializer(serializers.Serializer):
    items = serializers.ListField(child=ItemId(), max_length=20)


class HeartbeatOutSerializer(serializers.Serializer):
    leases = serializers.ListField(child=inline_serializer("HeldLease", {"item": serializers.IntegerField(), "expires_at": serializers.DateTimeField()}))
    expired = serializers.ListField(child=serializers.IntegerField(), help_text="Items whose hold had already expired.")


class ReleaseInSerializer(serializers.Serializer):
    item = ItemId()
    skip = Boolean(default=True, help_text="true: never offer it to me again; false: just give it back.")


class ProgressSerializer(serializers.Serializer):
    today = serializers.IntegerField()
    total = serializers.IntegerField()
    left = serializers.IntegerField(help_text="Open items you have not answered.")


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


class NextItemApi(APIView):
    @extend_schema(request=NextInSerializer, responses={200: NextOutSerializer, **CONFLICTS, **ERRORS},
                   summary="Lease the next item to label (annotator)")  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        data = _valid(NextInSerializer, request.data)
        lease = labeling.item_lease_next(project=access.project, annotator=request.user, exclude=tuple(data["exclude"]))
        return Response({"assignment": assignment_data(lease, slug)})


class VoteCastApi(APIView):
    @extend_schema(
        request=VoteInSerializer,
        responses={201: VoteResultSerializer, 200: OpenApiResponse(VoteResultSerializer, description="A retry: the vote was already stored."), **CONFLICTS, **ERRORS},
        summary="Vote on a leased item, and get the next one (annotator)",
        description="Votes are append-only and idempotent on `client_id`. The whole request is refused if any field is invalid; nothing is stored then.",
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        data = _valid(VoteInSerializer, request.data)
        want_next = data.pop("next")
        item_id = data.pop("item")
        next_lease = None
        if want_next is None:
            result = labeling.vote_cast(project=access.project, annotator=request.user, item_id=item_id, **data)
        else:
            result, next_lease = labeling.vote_cast_and_next(
                project=access.project, annotator=request.user, item_id=item_id, exclude=tuple(want_next["exclude"]), **data
            )
        return Response(
            {"vote": vote_data(result.vote), "next": assignment_data(next_lease, slug), "feedback": result.feedback},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class VoteUndoApi(APIView):
    @extend_schema(request=UndoInSerializer, responses={201: UndoOutSerializer, **CONFLICTS, **ERRORS},
                   summary="Undo my last vote while I still hold its item (annotator)")  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        data = _valid(UndoInSerializer, request.data)
        result = labeling.vote_undo(project=access.project, annotator=request.user, client_id=data["client_id"], item_id=data["item"])
        lease = Lease.objects.select_related("item", "rulebook_version").get(pk=result.vote.lease_id)
        return Response(
            {"retraction": vote_data(result.vote), "assignment": assignment_data(lease, slug)},
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class LeaseHeartbeatApi(APIView):
    @extend_schema(request=HeartbeatInSerializer, responses={200: HeartbeatOutSerializer, **ERRORS},
                   summary="Keep my items (annotator)")  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        data = _valid(HeartbeatInSerializer, request.data)
        kept, expired = labeling.lease_heartbeat(project=access.project, annotator=request.user, item_ids=data["items"])
        return Response({"leases": [{"item": lease.item_id, "expires_at": lease.expires_at} for lease in kept], "expired": expired})


class LeaseReleaseApi(APIView):
    @extend_schema(request=ReleaseInSerializer, responses={200: inline_serializer("Released", {"item": serializers.IntegerField(), "status": serializers.CharField()}), **CONFLICTS, **ERRORS},
                   summary="Skip or give back an item (annotator)",
                   description="All or nothing: an invalid field (`skip` is `true` or `false`) changes nothing.")  # fmt: skip
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        data = _valid(ReleaseInSerializer, request.data)
        lease = labeling.lease_release(project=access.project, annotator=request.user, item_id=data["item"], skip=data["skip"])
        return Response({"item": lease.item_id, "status": lease.status})


class MyProgressApi(APIView):
    @extend_schema(responses={200: ProgressSerializer, **ERRORS}, summary="My progress in this project (annotator)")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        return Response(labeling_selectors.annotator_progress(project=access.project, annotator=request.user))
