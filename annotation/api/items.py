"""API of items."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api import serializers as s
from annotation.api.projects import ERRORS, api_access
from annotation.items import selectors as items_selectors
from annotation.projects.models import Role


class ItemListApi(GenericAPIView):
    serializer_class = s.ItemSerializer

    @extend_schema(parameters=[s.ItemQuerySerializer], responses={200: s.ItemSerializer(many=True), **ERRORS},
                   summary="Items, filtered (reviewer or admin)")  # fmt: skip
    def get(self, request: Request, slug: str) -> Response:
        access = api_access(request, slug, Role.REVIEWER)
        query = s.ItemQuerySerializer(data=request.query_params.dict())  # a dict: `state=` is refused, not ignored
        query.is_valid(raise_exception=True)
        items = items_selectors.item_list(project=access.project, filters=items_selectors.ItemFilters(**query.validated_data))
        page = self.paginate_queryset(items)
        return self.get_paginated_response(s.ItemSerializer(page, many=True, context={"slug": slug}).data)


class ItemDetailApi(APIView):
    @extend_schema(responses={200: s.ItemSerializer, **ERRORS}, summary="One item (reviewer or admin)")
    def get(self, request: Request, slug: str, item_id: int) -> Response:
        access = api_access(request, slug, Role.REVIEWER)
        item = items_selectors.item_get(project=access.project, item_id=item_id)
        return Response(s.ItemSerializer(item, context={"slug": slug}).data)
