"""API of curation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.projects import ERRORS, api_access
from annotation.curation import selectors as curation_selectors
from annotation.curation import services as curation_services
from annotation.projects.models import Role


class CurationApi(APIView):
    @extend_schema(
        responses={200: OpenApiResponse(description="Counts per flag, and the largest near-duplicate clusters (up to 200) with their members, representative first."), **ERRORS},
        summary="Curation: clusters and flags (admin)",
    )
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        clusters = list(curation_selectors.cluster_list(project=access.project, undecided_only=request.query_params.get("all") != "1")[:200])
        members = curation_selectors.cluster_members(clusters=clusters)
        return Response({
            "counts": curation_selectors.curation_counts(project=access.project),
            "clusters": [
                {"id": c.pk, "size": c.size, "representative": c.representative_id,
                 "members": s.CurationMemberSerializer(members[c.pk], many=True).data}
                for c in clusters
            ],
        })  # fmt: skip


class CurationRunApi(APIView):
    @extend_schema(request=None, responses={200: OpenApiResponse(description="What the run found."), **ERRORS}, summary="Run curation now (admin)")
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        summary = curation_services.curation_run(project=access.project, actor=request.user)
        return Response({"clusters": summary.clusters, "clustered_items": summary.clustered_items, "flagged": summary.flagged, "seconds": round(summary.seconds, 3)})


class CurationDecisionApi(APIView):
    @extend_schema(
        request=s.CurationDecisionSerializer,
        responses={200: OpenApiResponse(description="`changed`: how many items changed."), **ERRORS},
        summary="Keep, exclude or undo items (admin)",
        description=(
            "`exclude` takes items out of every queue (leases released, holders told); `keep` marks them reviewed "
            "and puts an excluded item back in the state it had; `undo` clears the decision the same way. "
            "**All or nothing**: if any id is not an item of the project, nothing changes and the errors name it. "
            "Every change is an audit event."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = s.CurationDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = curation_services.curation_decide(project=access.project, actor=request.user, item_ids=data.validated_data["items"], decision=data.validated_data["decision"])
        return Response({"changed": changed})
