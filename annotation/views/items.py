"""The item browser, one item, and an item's image and thumbnail."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.curation import selectors as curation_selectors
from annotation.curation.measures import FLAG_NAMES
from annotation.forms import (
    ItemFilterForm,
)
from annotation.items import selectors as items_selectors
from annotation.projects import selectors as projects_selectors
from annotation.projects.models import ItemKind, Role
from annotation.views import curation as curation_views
from annotation.views.projects import page_context, project_page


@project_page(Role.REVIEWER)
def item_list(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    form = ItemFilterForm(request.GET or None)
    filters = items_selectors.ItemFilters()
    if form.is_valid():
        filters = items_selectors.ItemFilters(**{k: v for k, v in form.cleaned_data.items() if v})
    page = Paginator(items_selectors.item_list(project=access.project, filters=filters), 48).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "annotation/item_list.html",
        page_context(
            access, form=form, page=page, query=query.urlencode(),
            meta_keys=items_selectors.item_metadata_keys(project=access.project),
            is_image=access.project.item_kind == ItemKind.IMAGE,
        ),
    )  # fmt: skip


@project_page(Role.REVIEWER)
def item_detail(request: HttpRequest, access: projects_selectors.ProjectAccess, item_id: int) -> HttpResponse:
    item = items_selectors.item_get(project=access.project, item_id=item_id)
    ground_truth = item.ground_truth.filter(withdrawn_at__isnull=True).select_related("reviewer").first()
    cluster = item.cluster if item.cluster_id else None
    # The curation page that shows this cluster (all clusters, so a decided one is there too).
    cluster_page = curation_selectors.cluster_position(cluster=cluster) // curation_views.CLUSTERS_PER_PAGE + 1 if cluster else None
    return render(
        request, "annotation/item_detail.html",
        page_context(access, item=item, ground_truth=ground_truth, cluster=cluster, cluster_page=cluster_page,
             flag_names=FLAG_NAMES,
             curation_actions=[("keep", "Keep"), ("exclude", "Exclude from labeling"), ("undo", "Undo the decision")]),
    )  # fmt: skip


@project_page()
def item_file(request: HttpRequest, access: projects_selectors.ProjectAccess, item_id: int, which: str) -> HttpResponse:
    """An item's image or thumbnail, for members who may see the item (media is never served
    publicly; annotators see only what they hold, voted on, or the rulebook shows)."""
    name = items_selectors.access_item_file(access=access, user=request.user, item_id=item_id, which=which)
    if not default_storage.exists(name):
        raise Http404("No file.")
    response = FileResponse(default_storage.open(name, "rb"))
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
