"""Pages of projects: list, creation, overview, settings, members, audit log; the page decorator."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation import accounts
from annotation.exceptions import Conflict, NotFound, ProjectNotFound, RoleRequired, ValidationFailed
from annotation.forms import (
    MemberAddForm,
    MemberRoleForm,
    ProjectCreateForm,
    ProjectSettingsForm,
)
from annotation.imports import selectors as imports_selectors
from annotation.projects import selectors as projects_selectors
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from annotation.rulebook import selectors as rulebook_selectors

View = Callable[..., HttpResponse]


def project_page(role: str = Role.ANNOTATOR) -> Callable[[View], View]:
    """Log in first; then outsiders get 404 and members below ``role`` get 403."""

    def decorate(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                access = projects_selectors.access_project(user=request.user, slug=slug, role=role)
            except ProjectNotFound:
                raise Http404("Project not found.") from None
            except RoleRequired as exc:
                raise PermissionDenied(exc.message) from None
            try:
                return view(request, access, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from None

        return wrapper

    return decorate


def page_context(access: projects_selectors.ProjectAccess, **extra: Any) -> dict[str, Any]:
    return {"project": access.project, "role": access.role, "access": access, **extra}


def form_errors(form: Any, exc: ValidationFailed) -> None:
    for err in exc.errors:
        field = err.get("field")
        form.add_error(field if field in form.fields else None, err.get("message") or err.get("reason"))
    if not exc.errors:
        form.add_error(None, exc.message)


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None) -> HttpResponse:
    """django-axes' answer to a locked-out login (``AXES_LOCKOUT_CALLABLE``): the login page
    again, saying what happened and when to try again (429). The admin's login gets the same."""
    until = accounts.login_locked_until(request=request, credentials=credentials)
    response = render(
        request, "registration/login.html",
        {"locked_out": accounts.login_lockout_message(until=until), "next": request.POST.get("next", "")},
        status=429,
    )  # fmt: skip
    if until is not None:
        response["Retry-After"] = str(accounts.login_retry_after_seconds(until=until))
    return response


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/project_list.html", {"rows": projects_selectors.project_rows_for_user(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = projects_services.project_create(actor=request.user, **form.cleaned_data)
        except ValidationFailed as exc:
            form_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Project “{project.name}” created. Next: write its rulebook.")
            return redirect("rulebook-edit", slug=project.slug)
    return render(request, "annotation/project_create.html", {"form": form})


@project_page()
def project_overview(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    return render(
        request,
        "annotation/project_overview.html",
        page_context(
            access,
            progress=projects_selectors.project_progress(project=project),
            rulebook=rulebook_selectors.rulebook_current(project=project),
            recent_imports=imports_selectors.import_job_list(project=project)[:5] if access.has(Role.ADMIN) else [],
        ),
    )


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    # The form edits a copy: the service compares against the project as it was.
    form = ProjectSettingsForm(request.POST or None, instance=copy.copy(access.project))
    if request.method == "POST" and form.is_valid():
        try:
            projects_services.project_update(
                actor=request.user,
                project=access.project,
                **{k: form.cleaned_data[k] for k in form.changed_data},
            )
        except ValidationFailed as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("project-settings", slug=access.project.slug)
    return render(request, "annotation/project_settings.html", page_context(access, form=form))


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    add_form = MemberAddForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add" and add_form.is_valid():
                m = projects_services.member_add(actor=request.user, project=project, **add_form.cleaned_data)
                messages.success(request, f"{m.user.username} added as {m.get_role_display().lower()}.")
                return redirect("members", slug=project.slug)
            if action in ("role", "remove"):
                role_form = MemberRoleForm(request.POST)
                if not role_form.is_valid():
                    messages.error(request, "Choose a member and a role.")
                elif action == "role":
                    projects_services.member_set_role(
                        actor=request.user, project=project,
                        user_id=role_form.cleaned_data["user_id"], role=role_form.cleaned_data["role"],
                    )  # fmt: skip
                    messages.success(request, "Role changed.")
                else:
                    projects_services.member_remove(actor=request.user, project=project, user_id=role_form.cleaned_data["user_id"])
                    messages.success(request, "Member removed.")
                return redirect("members", slug=project.slug)
        except ValidationFailed as exc:
            form_errors(add_form, exc)
        except (Conflict, NotFound) as exc:
            messages.error(request, exc.message)
            if action != "add":
                return redirect("members", slug=project.slug)
    return render(
        request,
        "annotation/members.html",
        page_context(access, members=projects_selectors.member_list(project=project), add_form=add_form, roles=Role.choices),
    )


@project_page(Role.ADMIN)
def audit_log(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    page = Paginator(projects_selectors.audit_list(project=access.project), 50).get_page(request.GET.get("page"))
    return render(request, "annotation/audit.html", page_context(access, page=page))
