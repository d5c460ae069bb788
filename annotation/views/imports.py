"""Import pages: upload items or votes, follow a job."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation.exceptions import ValidationFailed
from annotation.forms import (
    ImportForm,
    VotesImportForm,
)
from annotation.imports import selectors as imports_selectors
from annotation.imports import services as imports
from annotation.imports.votes import votes_import
from annotation.projects import selectors as projects_selectors
from annotation.projects.models import Role
from annotation.views.projects import page_context, project_page


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    votes_form = VotesImportForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.import_create(actor=request.user, project=access.project, name=upload.name, upload=upload)
        except ValidationFailed as exc:
            for err in exc.errors or [{"reason": exc.message}]:
                form.add_error("file", err.get("reason") or exc.message)
        else:
            imports.import_start(job=job)
            return redirect("import-job", slug=access.project.slug, job_id=job.pk)
    return render(
        request,
        "annotation/import.html",
        page_context(access, form=form, votes_form=votes_form, jobs=imports_selectors.import_job_list(project=access.project)[:20]),
    )


@project_page(Role.ADMIN)
def import_votes_page(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    """Votes cast elsewhere: import them and show what was kept and every bad row."""
    form = VotesImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        gold = form.cleaned_data.get("gold")
        try:
            result = votes_import(
                actor=request.user, project=access.project, votes=form.cleaned_data["votes"].read(),
                gold=gold.read() if gold else None, create_items=form.cleaned_data["create_items"],
            )  # fmt: skip
        except ValidationFailed as exc:
            form.add_error("votes", exc.message)
    return render(request, "annotation/import_votes.html", page_context(access, votes_form=form, result=result))


@project_page(Role.ADMIN)
def import_job(request: HttpRequest, access: projects_selectors.ProjectAccess, job_id: int) -> HttpResponse:
    job = imports_selectors.import_job_get(project=access.project, job_id=job_id)
    return render(
        request,
        "annotation/import_job.html",
        page_context(access, job=job, api_url=reverse("api-import", args=[access.project.slug, job.pk])),
    )
