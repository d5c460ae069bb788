"""Rulebook pages: a version, the editor, history, clarification notes."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation.exceptions import Conflict, ValidationFailed
from annotation.forms import (
    LabelFormSet,
    RulebookForm,
)
from annotation.projects import selectors as projects_selectors
from annotation.projects.models import Role
from annotation.rulebook import document as rb
from annotation.rulebook import selectors as rulebook_selectors
from annotation.rulebook import services as rulebook_services
from annotation.views.projects import page_context, project_page


def _version_context(access: projects_selectors.ProjectAccess, version: Any) -> dict[str, Any]:
    examples = rulebook_selectors.rulebook_example_items(project=access.project, version=version) if version else {}
    return page_context(access, version=version, examples=examples)


@project_page()
def rulebook_view(request: HttpRequest, access: projects_selectors.ProjectAccess, number: int | None = None) -> HttpResponse:
    if number is None:
        version = rulebook_selectors.rulebook_current(project=access.project)
    else:
        version = rulebook_selectors.rulebook_version_get(project=access.project, number=number)
        if not version.is_published:
            raise Http404("Not a published version.")
    return render(request, "annotation/rulebook_view.html", _version_context(access, version))


def _labels_from_formset(formset: Any) -> list[dict[str, Any]]:
    labels = []
    for form in formset.forms:
        if formset.can_delete and formset._should_delete_form(form):
            continue
        data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
        if not any(str(v).strip() for k, v in data.items() if k not in ("DELETE", "color")):
            continue  # an empty row the admin added and left empty
        labels.append({k: v for k, v in data.items() if k != "DELETE"})
    return labels


def _label_initial(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # A colour input always sends a colour, so an empty one would come back black: fill it.
    return [
        {**lab, "fit_examples": ", ".join(lab.get("fit_examples", [])),
         "nonfit_examples": ", ".join(lab.get("nonfit_examples", [])),
         "color": lab.get("color") or rb.PALETTE[i % len(rb.PALETTE)]}
        for i, lab in enumerate(labels)
    ]  # fmt: skip


def _attach_problems(form: Any, formset: Any, problems: list[dict[str, Any]]) -> None:
    kept = [f for f in formset.forms if not (formset.can_delete and formset._should_delete_form(f))
            and any(str(v).strip() for k, v in getattr(f, "cleaned_data", {}).items() if k not in ("DELETE", "color"))]  # fmt: skip
    for p in problems:
        index = p.get("label")
        if index is not None and index < len(kept):
            kept[index].add_error(p["field"] if p["field"] in kept[index].fields else None, p["message"])
        else:
            form.add_error(None, p["message"])


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def rulebook_edit(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    draft = rulebook_services.rulebook_draft_get_or_create(project=project)
    current = rulebook_selectors.rulebook_current(project=project)
    if request.method == "POST":
        form = RulebookForm(request.POST)
        formset = LabelFormSet(request.POST, prefix="labels")
        if form.is_valid() and formset.is_valid():
            labels = _labels_from_formset(formset)
            fields = dict(form.cleaned_data)
            path, path_errors = rb.parse_decision_path(fields.pop("decision_path"))
            try:
                draft, problems = rulebook_services.rulebook_draft_save(
                    actor=request.user, project=project, labels=labels, decision_path=path, **fields
                )
            except (ValidationFailed, Conflict) as exc:
                if isinstance(exc, ValidationFailed):  # over a size cap: nothing saved, each field named
                    _attach_problems(form, formset, exc.errors)
                    messages.error(request, exc.message)
                else:
                    form.add_error(None, exc.message)
                return render(
                    request, "annotation/rulebook_edit.html",
                    # Still based on the old draft: saving again conflicts again until a reload.
                    page_context(access, form=form, formset=formset, draft=draft, current=current, palette=rb.PALETTE,
                         based_on=request.POST.get("based_on", "")),
                    status=400 if isinstance(exc, ValidationFailed) else 409,
                )  # fmt: skip
            problems = [e.as_dict() for e in path_errors] + problems
            if request.POST.get("action") == "publish":
                if not problems:
                    try:
                        version = rulebook_services.rulebook_publish(actor=request.user, project=project)
                    except Conflict as exc:
                        messages.error(request, exc.message)
                    except ValidationFailed as exc:
                        problems = exc.errors
                    else:
                        messages.success(request, f"Published version {version.number}.")
                        return redirect("rulebook-history", slug=project.slug)
                if problems:
                    _attach_problems(form, formset, problems)
                    messages.error(request, "Not published: fix the problems marked below. Your draft is saved.")
            elif problems:
                _attach_problems(form, formset, problems)
                messages.warning(request, "Draft saved. It cannot be published until the problems below are fixed.")
            else:
                messages.success(request, "Draft saved.")
                return redirect("rulebook-edit", slug=project.slug)
    else:
        form = RulebookForm(
            initial={
                "guidelines": draft.guidelines,
                "unclear_instructions": draft.unclear_instructions,
                "do_not_label": draft.do_not_label,
                "decision_path": rb.format_decision_path(draft.decision_path),
                "change_note": draft.change_note,
            }
        )
        initial = _label_initial(draft.labels or [{}, {}])
        formset = LabelFormSet(initial=initial, prefix="labels")
    return render(
        request,
        "annotation/rulebook_edit.html",
        page_context(access, form=form, formset=formset, draft=draft, current=current, palette=rb.PALETTE,
             based_on=draft.updated_at.isoformat(), notes=rulebook_selectors.clarification_notes_open(project=project)),
    )


@project_page(Role.ADMIN)
@require_http_methods(["POST"])
def clarification_resolve(request: HttpRequest, access: projects_selectors.ProjectAccess, note_id: int) -> HttpResponse:
    rulebook_services.clarification_resolve(project=access.project, actor=request.user, note_id=note_id)
    messages.success(request, "Note marked resolved.")
    return redirect("rulebook-edit", slug=access.project.slug)


@project_page()
def rulebook_history(request: HttpRequest, access: projects_selectors.ProjectAccess) -> HttpResponse:
    versions = list(rulebook_selectors.rulebook_versions(project=access.project))
    numbers = [v.number for v in versions]
    comparison = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if not a and not b and len(numbers) >= 2:
        a, b = str(numbers[1]), str(numbers[0])
    if a and b:
        try:
            old = next(v for v in versions if v.number == int(a))
            new = next(v for v in versions if v.number == int(b))
        except (StopIteration, ValueError):
            messages.error(request, "Choose two published versions to compare.")
        else:
            comparison = {
                "old": old,
                "new": new,
                "diff": rb.diff(rulebook_selectors.rulebook_document(old), rulebook_selectors.rulebook_document(new)),
            }
    return render(
        request, "annotation/rulebook_history.html", page_context(access, versions=versions, comparison=comparison)
    )
