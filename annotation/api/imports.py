"""API of item imports."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.projects import ERRORS, api_access
from annotation.imports import selectors as imports_selectors
from annotation.imports import services as imports
from annotation.projects.models import Role


class ImportListApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={200: s.ImportJobSerializer(many=True), **ERRORS}, summary="Imports (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        return Response(s.ImportJobSerializer(imports_selectors.import_job_list(project=access.project)[:100], many=True).data)

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
        access = api_access(request, slug, Role.ADMIN)
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
        access = api_access(request, slug, Role.ADMIN)
        return Response(s.ImportJobSerializer(imports_selectors.import_job_get(project=access.project, job_id=job_id)).data)
