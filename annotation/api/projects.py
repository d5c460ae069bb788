"""API of projects, members and the audit log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.projects import selectors as projects_selectors
from annotation.projects import services as projects_services
from annotation.projects.models import Role

ERRORS = {
    400: OpenApiResponse(description="Invalid input: `detail` and a list of `errors` with field and reason."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="A member whose role does not allow this."),
    404: OpenApiResponse(description="No such project, or you are not a member of it."),
}


def api_access(request: Request, slug: str, role: str = Role.ANNOTATOR) -> projects_selectors.ProjectAccess:
    return projects_selectors.access_project(user=request.user, slug=slug, role=role)


class ProjectListApi(APIView):
    @extend_schema(responses={200: s.ProjectListSerializer(many=True)}, summary="Projects I belong to")
    def get(self, request: Request) -> Response:
        rows = projects_selectors.project_rows_for_user(user=request.user)
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
        project = projects_services.project_create(actor=request.user, **data.validated_data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    @extend_schema(responses={200: s.ProjectSerializer, **ERRORS}, summary="One project")
    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ProjectSerializer(api_access(request, slug).project).data)

    @extend_schema(
        request=s.ProjectSettingsSerializer,
        responses={200: s.ProjectSerializer, **ERRORS},
        summary="Change the project's name, description or consensus settings (admin)",
        description="**All or nothing**: if any field is invalid or cannot be set here, nothing changes and the errors name each.",
    )
    def patch(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = s.ProjectSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = projects_services.project_update(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.ProjectSerializer(project).data)


class MemberListApi(APIView):
    @extend_schema(responses={200: s.MemberSerializer(many=True), **ERRORS}, summary="Members (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        return Response(s.MemberSerializer(projects_selectors.member_list(project=access.project), many=True).data)

    @extend_schema(
        request=s.MemberAddSerializer,
        responses={201: s.MemberSerializer, 409: OpenApiResponse(description="Already a member."), **ERRORS},
        summary="Add a member (admin); with a password, a new account is created",
    )
    def post(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = s.MemberAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = projects_services.member_add(actor=request.user, project=access.project, **data.validated_data)
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(APIView):
    @extend_schema(
        request=s.MemberRoleSerializer,
        responses={200: s.MemberSerializer, 409: OpenApiResponse(description="Would leave no admin."), **ERRORS},
        summary="Change a member's role (admin)",
    )
    def patch(self, request: Request, slug: str, user_id: int) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        data = s.MemberRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = projects_services.member_set_role(
            actor=request.user, project=access.project, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Would leave no admin."), **ERRORS},
                   summary="Remove a member (admin)")  # fmt: skip
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        projects_services.member_remove(actor=request.user, project=access.project, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditListApi(GenericAPIView):
    serializer_class = s.AuditEventSerializer

    @extend_schema(responses={200: s.AuditEventSerializer(many=True), **ERRORS}, summary="Audit log, newest first (admin)")
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.ADMIN)
        page = self.paginate_queryset(projects_selectors.audit_list(project=access.project))
        return self.get_paginated_response(s.AuditEventSerializer(page, many=True).data)
