"""API of the rulebook."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.projects import ERRORS, api_access
from annotation.projects.models import Role
from annotation.rulebook import selectors as rulebook_selectors
from annotation.rulebook import services as rulebook_services


class RulebookCurrentApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer, **ERRORS}, summary="The published rulebook in force")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        current = rulebook_selectors.rulebook_current(project=access.project)
        if current is None:
            return Response({"detail": "No rulebook has been published yet."}, status=status.HTTP_404_NOT_FOUND)
        return Response(s.RulebookSerializer(current).data)


class RulebookVersionListApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer(many=True), **ERRORS}, summary="Published versions, newest first")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug)
        return Response(s.RulebookSerializer(rulebook_selectors.rulebook_versions(project=access.project), many=True).data)


class RulebookVersionDetailApi(APIView):
    @extend_schema(responses={200: s.RulebookSerializer, **ERRORS}, summary="One published version")
    def get(self, request: Request, slug: str, number: int) -> Response:
        access = api_access(request, slug)
        return Response(s.RulebookSerializer(rulebook_selectors.rulebook_version_get(project=access.project, number=number)).data)


class RulebookDraftApi(APIView):
    @extend_schema(responses={200: s.RulebookDraftOutSerializer, **ERRORS}, summary="The draft (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        draft = rulebook_services.rulebook_draft_get_or_create(project=access.project)
        problems = rulebook_services.rulebook_check(project=access.project, labels=draft.labels, decision_path=draft.decision_path)
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
        access = api_access(request, slug, Role.ADMIN)
        data = s.RulebookDraftInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        draft, problems = rulebook_services.rulebook_draft_save(actor=request.user, project=access.project, **data.validated_data)
        return Response({"draft": s.RulebookSerializer(draft).data, "problems": problems})


class RulebookPublishApi(APIView):
    @extend_schema(
        request=s.PublishSerializer,
        responses={201: s.RulebookSerializer, 409: OpenApiResponse(description="Nothing changed."), **ERRORS},
        summary="Publish the draft as the next version (admin)",
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = s.PublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = rulebook_services.rulebook_publish(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.RulebookSerializer(version).data, status=status.HTTP_201_CREATED)
