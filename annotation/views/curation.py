"""The curation page: clusters and flags, decisions, re-runs."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from annotation.curation import selectors as curation_selectors
from annotation.curation import services as curation_services
from annotation.curation.measures import FLAG_NAMES
from annotation.exceptions import ValidationFailed
from annotation.forms import (
    CurationDecisionForm,
    CurationThresholdsForm,
)
from annotation.projects import selectors as projects_selectors
from annotation.projects import services as projects_services
from annotation.projects.models import ItemKind, Role
from annotation.views.projects import form_errors, page_context, project_page

CLUSTERS_PER_PAGE = 20


def _curation_url(slug: str, request: HttpRequest) -> str:
    """Back to the curation view (same tab, filter and page) or the item page the admin came from."""
    back = request.POST.get("next", "")
    pages = (reverse("curation", args=[slug]), reverse("items", args=[slug]))
    if back.startswith(pages) and url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        return back
    return reverse("curation", args=[slug])


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def curation_page(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    """Near-duplicate clusters and flagged items, with keep / exclude one by one or in bulk;
    the thresholds, and a run on demand."""
    project = access.project
    form = CurationThresholdsForm(request.POST if request.method == "POST" else None, instance=copy.copy(project))
    if request.method == "POST":
        if form.is_valid():
            try:
                projects_services.project_update(
                    actor=request.user, project=project, **{k: form.cleaned_data[k] for k in form.changed_data}
                )
            except ValidationFailed as exc:
                form_errors(form, exc)
            else:
                summary = curation_services.curation_run(project=project, actor=request.user)
                messages.success(request, f"Thresholds saved. Curation ran again: {summary.clusters} near-duplicate clusters.")
                return redirect("curation", slug=project.slug)
        named = [str(form.fields[name].label) for name in form.errors if name in form.fields]
        messages.error(request, "The thresholds were not saved" + (f": check {', '.join(named)}." if named else "."))
    tab = request.GET.get("show", "near_duplicate")
    counts = curation_selectors.curation_counts(project=project)
    if tab not in {f["key"] for f in counts["flags"]}:
        raise Http404("No such view.")
    undecided = request.GET.get("all") != "1"
    if tab == "near_duplicate":
        page = Paginator(curation_selectors.cluster_list(project=project, undecided_only=undecided), CLUSTERS_PER_PAGE).get_page(request.GET.get("page"))
        members = curation_selectors.cluster_members(clusters=list(page))
        # The cluster's bulk exclude takes only its undecided copies: a Keep stands.
        rows = [(c, members[c.pk], [m.pk for m in members[c.pk][1:] if not m.curation]) for c in page]
    else:
        page = Paginator(curation_selectors.flagged_items(project=project, flag=tab, undecided_only=undecided), 60).get_page(request.GET.get("page"))
        rows = list(page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "annotation/curation.html",
        page_context(
            access, form=form, counts=counts, tab=tab, tab_name=FLAG_NAMES[tab], undecided=undecided,
            page=page, rows=rows, query=query.urlencode(), here=request.get_full_path(),
            is_image=project.item_kind == ItemKind.IMAGE,
            tile_actions=[("keep", "Keep"), ("exclude", "Exclude"), ("undo", "Undo")],
        ),
    )  # fmt: skip


@project_page(Role.ADMIN)
@require_http_methods(["POST"])
def curation_decide(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    form = CurationDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(_curation_url(access.project.slug, request))
    decision = form.cleaned_data["decision"]
    try:
        changed = curation_services.curation_decide(
            project=access.project, actor=request.user, item_ids=form.cleaned_data["items"], decision=decision
        )
    except ValidationFailed as exc:
        messages.error(request, exc.message + " " + "; ".join(e.get("message", "") for e in exc.errors))
    else:
        verb = {"keep": "kept", "exclude": "excluded", "undo": "back to undecided"}[decision]
        messages.success(request, f"{changed} item{'s' if changed != 1 else ''} {verb}.")
    return redirect(_curation_url(access.project.slug, request))


@project_page(Role.ADMIN)
@require_http_methods(["POST"])
def curation_run(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    summary = curation_services.curation_run(project=access.project, actor=request.user)
    messages.success(
        request,
        f"Curation ran in {summary.seconds:.1f} s: {summary.clusters} near-duplicate clusters "
        f"({summary.clustered_items} items), " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.flagged.items() if k != "near_duplicate") + ".",
    )
    return redirect("curation", slug=access.project.slug)
