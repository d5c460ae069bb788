"""Agreement page and dashboard."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.projects.models import Role
from annotation.projects.selectors import ProjectAccess
from annotation.views.projects import page_context, project_page
from consensus.decisions import services
from consensus.reporting import agreement as reports
from consensus.reporting import dashboard


@project_page(Role.REVIEWER)
def agreement_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    report = reports.agreement_report(project=access.project)
    return render(
        request,
        "consensus/agreement.html",
        page_context(access, report=report, can_reestimate=access.has(Role.ADMIN) and report.has_rulebook),
    )


@project_page(Role.ADMIN)
@require_POST
def agreement_reestimate(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    project = access.project
    if project.current_rulebook_id is None:
        messages.error(request, "Publish a rulebook first: there is nothing to estimate against.")
    else:
        s = services.consensus_reestimate(project=project, actor=request.user)
        messages.success(
            request,
            f"Re-estimated from {s.votes} votes on {s.items} items ({s.method}, {s.iterations} iterations): "
            f"{s.promoted} promoted, {s.need_more} need more votes, {s.review} sent to review.",
        )
    return redirect("agreement", slug=project.slug)


@project_page(Role.REVIEWER)
def dashboard_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    snapshot = dashboard.dashboard_snapshot(project=access.project)
    return render(request, "consensus/dashboard.html", page_context(access, snapshot=snapshot))


@project_page(Role.REVIEWER)
def dashboard_data(request: HttpRequest, access: ProjectAccess) -> JsonResponse:
    return JsonResponse(dashboard.dashboard_snapshot(project=access.project))
