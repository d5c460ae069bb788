"""REST API: parse, check access, call a service or selector, serialize. Nothing more."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import curating, imports, selectors, services
from annotation.api import serializers as s
from annotation.projects.models import Role

ERRORS = {
    400: OpenApiResponse(description="Invalid input: `detail` and a list of `errors` with field and reason."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="A member whose role does not allow this."),
    404: OpenApiResponse(description="No such project, or you are not a member of it."),
}


def _access(request: Request, slug: str, role: str = Role.ANNOTATOR) -> selectors.ProjectAccess:
    return selectors.access_project(user=request.user, slug=slug, role=role)


class ProjectListApi(APIView):
    @extend_schema(responses={200: s.ProjectListSerializer(many=True)}, summary="Projects I belong to")
    def get(self, request: Request) -> Response:
        rows = selectors.project_rows_for_user(user=request.user)
        for row in rows:
            row["project"].role = row["role"]
        return Response(s.ProjectListSerializer([r["project"] for r in rows], many=True).data)

    @extend_schema(
        request=s.ProjectCreateSerializer,
        responses={201: s.ProjectSerializer, **ERRORS},
        summary="Create a project (you become its admin)",
    )
    def post(self, request: Request) -> Response:
        data = s.ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=request.user, **data.validated_data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    @extend_schema(responses={200: s.ProjectSerializer, **ERRORS}, summary="One project")
    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ProjectSerializer(_access(request, slug).project).data)

    @extend_schema(
        request=s.ProjectSettingsSerializer,
        responses={200: s.ProjectSerializer, **ERRORS},
        summary="Change the project's name, description or consensus settings (admin)",
        description="**All or nothing**: if any field is invalid or cannot be set here, nothing changes and the errors name each.",
    )
    def patch(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.ProjectSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.ProjectSerializer(project).data)


class MemberListApi(APIView):
    @extend_schema(responses={200: s.MemberSerializer(many=True), **ERRORS}, summary="Members (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        return Response(s.MemberSerializer(selectors.member_list(project=access.project), many=True).data)

    @extend_schema(
        request=s.MemberAddSerializer,
        responses={201: s.MemberSerializer, 409: OpenApiResponse(description="Already a member."), **ERRORS},
        summary="Add a member (admin); with a password, a new account is created",
    )
    def post(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_add(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(APIView):
    @extend_schema(
        request=s.MemberRoleSerializer,
        responses={200: s.MemberSerializer, 409: OpenApiResponse(description="Would leave no admin."), **ERRORS},
        summary="Change a member's role (admin)",
    )
    def patch(self, request: Request, slug: str, user_id: int) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.member_set_role(
            actor=request.user, project=access.project, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Would leave no admin."), **ERRORS},
                   summary="Remove a member (admin)")  # fmt: skip
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        access = _access(request, slug, Role.ADMIN)
        services.member_remove(actor=request.user, project=access.project, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RulebookCurrentApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer, **ERRORS}, summary="The published rulebook in force")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug)
        current = selectors.rulebook_current(project=access.project)
        if current is None:
            return Response({"detail": "No rulebook has been published yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response(s.RulebookSerializer(current).data)


class RulebookVersionListApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer(many=True), **ERRORS}, summary="Published versions, newest first")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug)
        return Response(s.RulebookSerializer(selectors.rulebook_versions(project=access.project), many=True).data)


class RulebookVersionDetailApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer, **ERRORS}, summary="One published version")
    def get(self, request: Request, slug: str, number: int) -> Response:
        access = _access(request, slug)
        return Response(s.RulebookSerializer(selectors.rulebook_version_get(project=access.project, number=number)).data)


class RulebookDraftApi(APIView):
    @extend_schema(responses={200: s.RulebookDraftOutSerializer, **ERRORS}, summary="The draft (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        draft = services.rulebook_draft_get_or_create(project=access.project)
        problems = services.rulebook_check(project=access.project, labels=draft.labels, decision_path=draft.decision_path)
        return Response({"draft": s.RulebookSerializer(draft).data, "problems": problems})

    @extend_schema(
        request=s.RulebookDraftInSerializer,
        responses={
            200: s.RulebookDraftOutSerializer,
            409: OpenApiResponse(description="`based_on` is not the draft's last save: someone saved it since; nothing was overwritten."),
            **ERRORS,
        },
        summary="Replace the draft (admin). It is saved even with problems; they are listed.",
    )
    def put(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.RulebookDraftInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft, problems = services.rulebook_draft_save(actor=request.user, project=access.project, **data.validated_data)
        return Response({"draft": s.RulebookSerializer(draft).data, "problems": problems})


class RulebookPublishApi(APIView):
    @extend_schema(
        request=s.PublishSerializer,
        responses={201: s.RulebookSerializer, 409: OpenApiResponse(description="Nothing changed."), **ERRORS},
        summary="Publish the draft as the next version (admin)",
    )
    def post(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.PublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.rulebook_publish(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.RulebookSerializer(version).data, status=status.HTTP_201_CREATED)


class ItemListApi(GenericAPIView):
    serializer_class = s.ItemSerializer

    @extend_schema(parameters=[s.ItemQuerySerializer], responses={200: s.ItemSerializer(many=True), **ERRORS},
                   summary="Items, filtered (reviewer or admin)")  # fmt: skip
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.REVIEWER)
        query = s.ItemQuerySerializer(data=request.query_params.dict())  # a dict: `state=` is refused, not ignored
        query.is_valid(raise_exception=True)
        items = selectors.item_list(project=access.project, filters=selectors.ItemFilters(**query.validated_data))
        page = self.paginate_queryset(items)
        return self.get_paginated_response(s.ItemSerializer(page, many=True, context={"slug": slug}).data)


class ItemDetailApi(APIView):
    @extend_schema(responses={200: s.ItemSerializer, **ERRORS}, summary="One item (reviewer or admin)")
    def get(self, request: Request, slug: str, item_id: int) -> Response:
        access = _access(request, slug, Role.REVIEWER)
        item = selectors.item_get(project=access.project, item_id=item_id)
        return Response(s.ItemSerializer(item, context={"slug": slug}).data)


class ImportListApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={200: s.ImportJobSerializer(many=True), **ERRORS}, summary="Imports (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        return Response(s.ImportJobSerializer(selectors.import_job_list(project=access.project)[:100], many=True).data)

    @extend_schema(
        request=s.ImportUploadSerializer,
        responses={
            201: OpenApiResponse(s.ImportJobSerializer, description="Finished: counts, and every bad row with its reason."),
            202: OpenApiResponse(s.ImportJobSerializer, description="Running as a background task; poll the job."),
            **ERRORS,
        },
        summary="Import items from a file (admin)",
        description=(
            "JSONL (`id`, `text` or `image`, `metadata`, `gold`), CSV (`id`, `text` or `image`, `gold`; other "
            "columns become metadata), a text file (one item per line), a zip of images or of a JSONL/CSV "
            "manifest with its images, or one image. Bad rows are reported with their line or file name, "
            "field and reason, and **the good rows are kept** (each batch commits on its own). Rows whose id "
            "or content is already in the project are counted as skipped."
        ),
    )
    def post(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        data = s.ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = imports.import_create(actor=request.user, project=access.project, name=upload.name, upload=upload)
        job = imports.import_start(job=job, background=data.validated_data["background"])
        code = status.HTTP_201_CREATED if job.is_finished else status.HTTP_202_ACCEPTED
        return Response(s.ImportJobSerializer(job).data, status=code)


class ImportDetailApi(APIView):
    @extend_schema(responses={200: s.ImportJobSerializer, **ERRORS}, summary="One import with its progress and errors (admin)")
    def get(self, request: Request, slug: str, job_id: int) -> Response:
        access = _access(request, slug, Role.ADMIN)
        return Response(s.ImportJobSerializer(selectors.import_job_get(project=access.project, job_id=job_id)).data)


class AuditListApi(GenericAPIView):
    serializer_class = s.AuditEventSerializer

    @extend_schema(responses={200: s.AuditEventSerializer(many=True), **ERRORS}, summary="Audit log, newest first (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        page = self.paginate_queryset(selectors.audit_list(project=access.project))
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)




class CurationApi(APIView):
    @extend_schema(
        responses={200: OpenApiResponse(description="Counts per flag, and the largest near-duplicate clusters (up to 200) with their members, representative first."), **ERRORS},
        summary="Curation: clusters and flags (admin)",
    )
    def get(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        clusters = list(curating.cluster_list(project=access.project, undecided_only=request.query_params.get("all") != "1")[:200])
        members = curating.cluster_members(clusters=clusters)
        return Response({
            "counts": curating.curation_counts(project=access.project),
            "clusters": [
                {"id": c.pk, "size": c.size, "representative": c.representative_id,
                 "members": s.CurationMemberSerializer(members[c.pk], many=True).data}
                for c in clusters
            ],
        })  # fmt: skip


class CurationRunApi(APIView):
    @extend_schema(request=None, responses={200: OpenApiResponse(description="What the run found."), **ERRORS}, summary="Run curation now (admin)")
    def post(self, request: Request, slug: str) -> Response:
        access = _access(request, slug, Role.ADMIN)
        summary = curating.curation_run(project=access.project, actor=request.user)
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
        access = _access(request, slug, Role.ADMIN)
        data = s.CurationDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = curating.curation_decide(project=access.project, actor=request.user, item_ids=data.validated_data["items"], decision=data.validated_data["decision"])
        return Response({"changed": changed})
