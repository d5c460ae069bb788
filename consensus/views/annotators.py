"""The annotators page, suspension, and an annotator's own page."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.exceptions import Conflict, ValidationFailed
from annotation.labeling.selectors import annotator_progress
from annotation.projects.models import Role
from annotation.projects.selectors import ProjectAccess
from annotation.views.projects import page_context, project_page
from consensus.annotators import services as annotators
from consensus.reporting import annotators as quality_report


@project_page(Role.REVIEWER)
def annotators_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    report = quality_report.annotator_quality(project=access.project)
    return render(
        request, "consensus/annotators.html",
        page_context(access, report=report, can_suspend=access.has(Role.ADMIN), flag_help=FLAG_HELP),
    )  # fmt: skip


FLAG_HELP = {
    "low_gold": "Low gold accuracy",
    "chance": "Agreement at chance level",
    "fast": "Far faster than peers",
    "constant": "Near-constant answers",
}


@project_page(Role.ADMIN)
@require_POST
def annotator_suspension(request: HttpRequest, access: ProjectAccess, voter_id: int, action: str) -> HttpResponse:
    """Suspend or reinstate the voter ``voter_id`` (a member or an imported annotator)."""
    if action not in ("suspend", "reinstate"):
        raise Http404("No such action.")
    try:
        if action == "suspend":
            s = annotators.annotator_suspend(
                project=access.project, actor=request.user, reason=request.POST.get("reason", ""), voter_id=voter_id
            )
        else:
            s = annotators.annotator_reinstate(project=access.project, actor=request.user, voter_id=voter_id)
    except (ValidationFailed, Conflict) as exc:
        messages.error(request, exc.message)
        return redirect("annotators", slug=access.project.slug)
    changed = ", ".join(f"{n} {k}" for k, n in s.changed.items()) or "no decision changed"
    verb = "suspended" if s.suspended else "reinstated"
    messages.success(request, f"{s.voter} {verb}; {s.items} items decided again: {changed}.")
    return redirect("annotators", slug=access.project.slug)


@project_page()
def my_work_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """An annotator's own progress and gold accuracy; nothing of anyone else's."""
    own = quality_report.own_progress(project=access.project, user_id=request.user.pk)
    progress = annotator_progress(project=access.project, annotator=request.user)
    return render(request, "consensus/my_work.html", page_context(access, own=own["row"], progress=progress))
