"""REST API of the consensus engine: parse, check access, call a service or selector, serialize."""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.projects import ERRORS, api_access
from annotation.api.serializers import Boolean, StrictSerializer
from annotation.imports.votes import votes_import
from annotation.projects.models import Role
from consensus import aggregation
from consensus.decisions.selectors import ground_truth_export
from consensus.decisions.services import consensus_reestimate


class VotesUploadSerializer(StrictSerializer):
    votes = serializers.FileField(help_text="CSV with the columns item,annotator,label.")
    gold = serializers.FileField(required=False, help_text="Optional CSV with the columns item,label.")
    create_items = Boolean(
        required=False, default=False, help_text="Create items named in the files that the project lacks."
    )


class RowErrorSerializer(serializers.Serializer):
    file = serializers.CharField()
    row = serializers.IntegerField()
    field = serializers.CharField()
    reason = serializers.CharField()


class SummarySerializer(serializers.Serializer):
    items = serializers.IntegerField()
    votes = serializers.IntegerField()
    alpha = serializers.FloatField(allow_null=True, help_text="Krippendorff's alpha, nominal; null when undefined.")
    method = serializers.CharField()
    promoted = serializers.IntegerField()
    need_more = serializers.IntegerField()
    review = serializers.IntegerField()
    collapsed = serializers.IntegerField(help_text="Ground truth whose support collapsed: sent to review.")
    ground_truth = serializers.IntegerField()
    iterations = serializers.IntegerField()
    converged = serializers.BooleanField()
    seconds = serializers.FloatField()


class VotesImportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    votes_created = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="Rows already imported with the same answer.")
    items_created = serializers.IntegerField()
    annotators_created = serializers.IntegerField()
    gold_set = serializers.IntegerField()
    errors = RowErrorSerializer(many=True)
    consensus = SummarySerializer(allow_null=True)


class ConsensusRunSerializer(StrictSerializer):
    method = serializers.ChoiceField(choices=sorted(aggregation.METHODS), default=aggregation.DEFAULT_METHOD)


class VotesImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=VotesUploadSerializer,
        responses={200: VotesImportSerializer, **ERRORS},
        summary="Import votes cast elsewhere, and gold answers (admin)",
        description=(
            "`votes`: CSV `item,annotator,label`; `gold`: CSV `item,label`. Items are matched by their "
            "external id, labels by key or name; annotators become external identities of the project (not "
            "logins). **Good rows are kept and bad rows reported** with file, row, field and reason (an unknown "
            "item or label, an empty field, a malformed line or one over QUORUM_MAX_LINE_BYTES, a second different "
            "answer from the same annotator on an item — votes are append-only). A file that is not UTF-8 text, or "
            "whose header lacks those columns or has more than QUORUM_MAX_CSV_COLUMNS, is refused whole (400). "
            "Re-importing the same file adds nothing. The project is then re-estimated and its items decided."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = VotesUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = votes_import(
            actor=request.user, project=access.project, votes=v["votes"].read(),
            gold=v["gold"].read() if v.get("gold") else None, create_items=v["create_items"],
        )  # fmt: skip
        return Response(VotesImportSerializer(result.as_dict()).data)


class ConsensusRunApi(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=ConsensusRunSerializer,
        responses={200: SummarySerializer, **ERRORS},
        summary="Re-estimate reliabilities and decide the project's items now (admin)",
        description=(
            "Runs the aggregator over every current vote, stores a new reliability estimate, promotes, asks for "
            "more votes or sends to review; promoted items whose support collapsed go to review (audited). Before the "
            "first rulebook is published there is nothing to decide. A `method` that is not one of the choices is "
            "refused (400) and nothing runs."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = ConsensusRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        summary = consensus_reestimate(project=access.project, actor=request.user, **data.validated_data)
        return Response(SummarySerializer(summary.as_dict()).data, status=status.HTTP_200_OK)


class ExportQuerySerializer(serializers.Serializer):
    all_items = serializers.BooleanField(
        required=False, default=False, help_text="Add undecided items with their best label, posterior and state."
    )


# The last line of an export that failed after it started, so a reader cannot take it for whole.
EXPORT_FAILED_LINE = json.dumps({"error": "The export failed before its end; this file is incomplete."}) + "\n"


class ExportApi(APIView):
    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(
                OpenApiTypes.STR,
                description=(
                    "JSON Lines, one item a line, with provenance. Should the export fail once it has started, "
                    'its last line is `{"error": …}` instead of an item.'
                ),
            ),
            **ERRORS,
        },
        summary="Ground truth with its provenance, as JSON Lines (reviewer or admin)",
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        access = api_access(request, slug, Role.REVIEWER)
        query = ExportQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        records = ground_truth_export(project=access.project, all_items=query.validated_data["all_items"])
        response = StreamingHttpResponse(
            (json.dumps(r, ensure_ascii=False) + "\n" for r in records), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = f'attachment; filename="{access.project.slug}-ground-truth.jsonl"'
        response.stream_error_chunk = EXPORT_FAILED_LINE.encode()  # see annotation.middleware
        return response
