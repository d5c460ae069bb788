"""Server-rendered pages. Each one parses, checks access, calls a service or selector, renders."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from annotation import accounts, curating, imports, selectors, services
from annotation import rulebook as rb
from annotation.exceptions import Conflict, NotFound, ProjectNotFound, RoleRequired, ValidationFailed
from annotation.forms import (
    CurationDecisionForm,
    CurationThresholdsForm,
    ImportForm,
    ItemFilterForm,
    LabelFormSet,
    MemberAddForm,
    MemberRoleForm,
    ProjectCreateForm,
    ProjectSettingsForm,
    RulebookForm,
    VotesImportForm,
)
from annotation.projects.models import ItemKind, Role
from consensus import review
from consensus.importing import votes_import

View = Callable[..., HttpResponse]


def project_page(role: str = Role.ANNOTATOR) -> Callable[[View], View]:
    """Log in first; then outsiders get 404 and members below ``role`` get 403."""

    def decorate(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                access = selectors.access_project(user=request.user, slug=slug, role=role)
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


def _ctx(access: selectors.ProjectAccess, **extra: Any) -> dict[str, Any]:
    return {"project": access.project, "role": access.role, "access": access, **extra}


def _form_errors(form: Any, exc: ValidationFailed) -> None:
    for err in exc.errors:
        field = err.get("field")
        form.add_error(field if field in form.fields else None, err.get("message") or err.get("reason"))
    if not exc.errors:
        form.add_error(None, exc.message)


# --- logging in ----------------------------------------------------------------------------------


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


# --- projects ---------------------------------------------------------------------------------------


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "annotation/project_list.html", {"rows": selectors.project_rows_for_user(user=request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(actor=request.user, **form.cleaned_data)
        except ValidationFailed as exc:
            _form_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Project “{project.name}” created. Next: write its rulebook.")
            return redirect("rulebook-edit", slug=project.slug)
    return render(request, "annotation/project_create.html", {"form": form})


@project_page()
def project_overview(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    return render(
        request,
        "annotation/project_overview.html",
        _ctx(
            access,
            progress=selectors.project_progress(project=project),
            rulebook=selectors.rulebook_current(project=project),
            recent_imports=selectors.import_job_list(project=project)[:5] if access.has(Role.ADMIN) else [],
        ),
    )


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def project_settings(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    # The form edits a copy: the service compares against the project as it was.
    form = ProjectSettingsForm(request.POST or None, instance=copy.copy(access.project))
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(
                actor=request.user,
                project=access.project,
                **{k: form.cleaned_data[k] for k in form.changed_data},
            )
        except ValidationFailed as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("project-settings", slug=access.project.slug)
    return render(request, "annotation/project_settings.html", _ctx(access, form=form))


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    add_form = MemberAddForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add" and add_form.is_valid():
                m = services.member_add(actor=request.user, project=project, **add_form.cleaned_data)
                messages.success(request, f"{m.user.username} added as {m.get_role_display().lower()}.")
                return redirect("members", slug=project.slug)
            if action in ("role", "remove"):
                role_form = MemberRoleForm(request.POST)
                if not role_form.is_valid():
                    messages.error(request, "Choose a member and a role.")
                elif action == "role":
                    services.member_set_role(
                        actor=request.user, project=project,
                        user_id=role_form.cleaned_data["user_id"], role=role_form.cleaned_data["role"],
                    )  # fmt: skip
                    messages.success(request, "Role changed.")
                else:
                    services.member_remove(actor=request.user, project=project, user_id=role_form.cleaned_data["user_id"])
                    messages.success(request, "Member removed.")
                return redirect("members", slug=project.slug)
        except ValidationFailed as exc:
            _form_errors(add_form, exc)
        except (Conflict, NotFound) as exc:
            messages.error(request, exc.message)
            if action != "add":
                return redirect("members", slug=project.slug)
    return render(
        request,
        "annotation/members.html",
        _ctx(access, members=selectors.member_list(project=project), add_form=add_form, roles=Role.choices),
    )


# --- rulebook -------------------------------------------------------------------------------------


def _version_context(access: selectors.ProjectAccess, version: Any) -> dict[str, Any]:
    examples = selectors.rulebook_example_items(project=access.project, version=version) if version else {}
    return _ctx(access, version=version, examples=examples)


@project_page()
def rulebook_view(request: HttpRequest, access: selectors.ProjectAccess, number: int | None = None) -> HttpResponse:
    if number is None:
        version = selectors.rulebook_current(project=access.project)
    else:
        version = selectors.rulebook_version_get(project=access.project, number=number)
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
def rulebook_edit(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    project = access.project
    draft = services.rulebook_draft_get_or_create(project=project)
    current = selectors.rulebook_current(project=project)
    if request.method == "POST":
        form = RulebookForm(request.POST)
        formset = LabelFormSet(request.POST, prefix="labels")
        if form.is_valid() and formset.is_valid():
            labels = _labels_from_formset(formset)
            fields = dict(form.cleaned_data)
            path, path_errors = rb.parse_decision_path(fields.pop("decision_path"))
            try:
                draft, problems = services.rulebook_draft_save(
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
                    _ctx(access, form=form, formset=formset, draft=draft, current=current, palette=rb.PALETTE,
                         based_on=request.POST.get("based_on", "")),
                    status=400 if isinstance(exc, ValidationFailed) else 409,
                )  # fmt: skip
            problems = [e.as_dict() for e in path_errors] + problems
            if request.POST.get("action") == "publish":
                if not problems:
                    try:
                        version = services.rulebook_publish(actor=request.user, project=project)
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
        _ctx(access, form=form, formset=formset, draft=draft, current=current, palette=rb.PALETTE,
             based_on=draft.updated_at.isoformat(), notes=selectors.clarification_notes_open(project=project)),
    )


@project_page(Role.ADMIN)
@require_http_methods(["POST"])
def clarification_resolve(request: HttpRequest, access: selectors.ProjectAccess, note_id: int) -> HttpResponse:
    review.clarification_resolve(project=access.project, actor=request.user, note_id=note_id)
    messages.success(request, "Note marked resolved.")
    return redirect("rulebook-edit", slug=access.project.slug)


@project_page()
def rulebook_history(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    versions = list(selectors.rulebook_versions(project=access.project))
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
                "diff": rb.diff(selectors.rulebook_document(old), selectors.rulebook_document(new)),
            }
    return render(
        request, "annotation/rulebook_history.html", _ctx(access, versions=versions, comparison=comparison)
    )


# --- import -------------------------------------------------------------------------------------


@project_page(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
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
        _ctx(access, form=form, votes_form=votes_form, jobs=selectors.import_job_list(project=access.project)[:20]),
    )


@project_page(Role.ADMIN)
def import_votes_page(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
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
    return render(request, "annotation/import_votes.html", _ctx(access, votes_form=form, result=result))


@project_page(Role.ADMIN)
def import_job(request: HttpRequest, access: selectors.ProjectAccess, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(project=access.project, job_id=job_id)
    return render(
        request,
        "annotation/import_job.html",
        _ctx(access, job=job, api_url=reverse("api-import", args=[access.project.slug, job.pk])),
    )


# --- items -------------------------------------------------------------------------------------


@project_page(Role.REVIEWER)
def item_list(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    form = ItemFilterForm(request.GET or None)
    filters = selectors.ItemFilters()
    if form.is_valid():
        filters = selectors.ItemFilters(**{k: v for k, v in form.cleaned_data.items() if v})
    page = Paginator(selectors.item_list(project=access.project, filters=filters), 48).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "annotation/item_list.html",
        _ctx(
            access, form=form, page=page, query=query.urlencode(),
            meta_keys=selectors.item_metadata_keys(project=access.project),
            is_image=access.project.item_kind == ItemKind.IMAGE,
        ),
    )  # fmt: skip


@project_page(Role.REVIEWER)
def item_detail(request: HttpRequest, access: selectors.ProjectAccess, item_id: int) -> HttpResponse:
    item = selectors.item_get(project=access.project, item_id=item_id)
    ground_truth = item.ground_truth.filter(withdrawn_at__isnull=True).select_related("reviewer").first()
    cluster = item.cluster if item.cluster_id else None
    # The curation page that shows this cluster (all clusters, so a decided one is there too).
    cluster_page = curating.cluster_position(cluster=cluster) // CLUSTERS_PER_PAGE + 1 if cluster else None
    return render(
        request, "annotation/item_detail.html",
        _ctx(access, item=item, ground_truth=ground_truth, cluster=cluster, cluster_page=cluster_page,
             flag_names=curating.FLAG_NAMES,
             curation_actions=[("keep", "Keep"), ("exclude", "Exclude from labeling"), ("undo", "Undo the decision")]),
    )  # fmt: skip


@project_page()
def item_file(request: HttpRequest, access: selectors.ProjectAccess, item_id: int, which: str) -> HttpResponse:
    """An item's image or thumbnail, for members who may see the item (media is never served
    publicly; annotators see only what they hold, voted on, or the rulebook shows)."""
    name = selectors.access_item_file(access=access, user=request.user, item_id=item_id, which=which)
    if not default_storage.exists(name):
        raise Http404("No file.")
    response = FileResponse(default_storage.open(name, "rb"))
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@project_page()
def label_page(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    """The annotator's page. Items come from the API (``annotation/api/labeling.py``); the
    rulebook in force is rendered here, beside the item."""
    version = selectors.rulebook_current(project=access.project)
    labels = version.labels if version else []
    return render(
        request,
        "annotation/label.html",
        _ctx(
            access,
            hide_tabs=True,
            version=version,
            examples=selectors.rulebook_example_items(project=access.project, version=version) if version else {},
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


@project_page(Role.ADMIN)
def audit_log(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    page = Paginator(selectors.audit_list(project=access.project), 50).get_page(request.GET.get("page"))
    return render(request, "annotation/audit.html", _ctx(access, page=page))


# --- curation -------------------------------------------------------------------------------------


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
def curation_page(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    """Near-duplicate clusters and flagged items, with keep / exclude one by one or in bulk;
    the thresholds, and a run on demand."""
    project = access.project
    form = CurationThresholdsForm(request.POST if request.method == "POST" else None, instance=copy.copy(project))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.project_update(
                    actor=request.user, project=project, **{k: form.cleaned_data[k] for k in form.changed_data}
                )
            except ValidationFailed as exc:
                _form_errors(form, exc)
            else:
                summary = curating.curation_run(project=project, actor=request.user)
                messages.success(request, f"Thresholds saved. Curation ran again: {summary.clusters} near-duplicate clusters.")
                return redirect("curation", slug=project.slug)
        named = [str(form.fields[name].label) for name in form.errors if name in form.fields]
        messages.error(request, "The thresholds were not saved" + (f": check {', '.join(named)}." if named else "."))
    tab = request.GET.get("show", "near_duplicate")
    counts = curating.curation_counts(project=project)
    if tab not in {f["key"] for f in counts["flags"]}:
        raise Http404("No such view.")
    undecided = request.GET.get("all") != "1"
    if tab == "near_duplicate":
        page = Paginator(curating.cluster_list(project=project, undecided_only=undecided), CLUSTERS_PER_PAGE).get_page(request.GET.get("page"))
        members = curating.cluster_members(clusters=list(page))
        # The cluster's bulk exclude takes only its undecided copies: a Keep stands.
        rows = [(c, members[c.pk], [m.pk for m in members[c.pk][1:] if not m.curation]) for c in page]
    else:
        page = Paginator(curating.flagged_items(project=project, flag=tab, undecided_only=undecided), 60).get_page(request.GET.get("page"))
        rows = list(page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "annotation/curation.html",
        _ctx(
            access, form=form, counts=counts, tab=tab, tab_name=curating.FLAG_NAMES[tab], undecided=undecided,
            page=page, rows=rows, query=query.urlencode(), here=request.get_full_path(),
            is_image=project.item_kind == ItemKind.IMAGE,
            tile_actions=[("keep", "Keep"), ("exclude", "Exclude"), ("undo", "Undo")],
        ),
    )  # fmt: skip


@project_page(Role.ADMIN)
@require_http_methods(["POST"])
def curation_decide(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    form = CurationDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(_curation_url(access.project.slug, request))
    decision = form.cleaned_data["decision"]
    try:
        changed = curating.curation_decide(
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
def curation_run(request: HttpRequest, access: selectors.ProjectAccess) -> HttpResponse:
    summary = curating.curation_run(project=access.project, actor=request.user)
    messages.success(
        request,
        f"Curation ran in {summary.seconds:.1f} s: {summary.clusters} near-duplicate clusters "
        f"({summary.clustered_items} items), " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.flagged.items() if k != "near_duplicate") + ".",
    )
    return redirect("curation", slug=access.project.slug)
