"""The labeling page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.projects import selectors as projects_selectors
from annotation.rulebook import selectors as rulebook_selectors
from annotation.views.projects import page_context, project_page


@project_page()
def label_page(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    """The annotator's page. Items come from the API (``annotation/api/labeling.py``); the
    rulebook in force is rendered here, beside the item."""
    version = rulebook_selectors.rulebook_current(project=access.project)
    labels = version.labels if version else []
    return render(
        request,
        "annotation/label.html",
        page_context(
            access,
            hide_tabs=True,
            version=version,
            examples=rulebook_selectors.rulebook_example_items(project=access.project, version=version) if version else {},
            page_config={
                "slug": access.project.slug,
                "multi": access.project.question_type == "multi",
                "leaseSeconds": access.project.lease_seconds,
                "rulebookVersion": version.number if version else None,
                "labels": [{"key": lab["key"], "name": lab["name"], "hotkey": lab["hotkey"], "color": lab["color"]} for lab in labels],
                "decisionPath": version.decision_path if version else [],
            },
        ),
    )
