"""Pages of the annotation app (consensus/urls.py has the rest)."""

from django.urls import path

from annotation.views import curation as views_curation
from annotation.views import imports as views_imports
from annotation.views import items as views_items
from annotation.views import labeling as views_labeling
from annotation.views import projects as views_projects
from annotation.views import rulebook as views_rulebook

urlpatterns = [
    path("", views_projects.project_list, name="project-list"),
    path("projects/new/", views_projects.project_create, name="project-create"),
    path("p/<slug:slug>/", views_projects.project_overview, name="project"),
    path("p/<slug:slug>/settings/", views_projects.project_settings, name="project-settings"),
    path("p/<slug:slug>/members/", views_projects.members, name="members"),
    path("p/<slug:slug>/rulebook/", views_rulebook.rulebook_view, name="rulebook"),
    path("p/<slug:slug>/rulebook/v<int:number>/", views_rulebook.rulebook_view, name="rulebook-version"),
    path("p/<slug:slug>/rulebook/edit/", views_rulebook.rulebook_edit, name="rulebook-edit"),
    path("p/<slug:slug>/rulebook/history/", views_rulebook.rulebook_history, name="rulebook-history"),
    path(
        "p/<slug:slug>/rulebook/notes/<int:note_id>/resolve/",
        views_rulebook.clarification_resolve,
        name="clarification-resolve",
    ),
    path("p/<slug:slug>/import/", views_imports.import_page, name="import"),
    path("p/<slug:slug>/import/votes/", views_imports.import_votes_page, name="import-votes"),
    path("p/<slug:slug>/imports/<int:job_id>/", views_imports.import_job, name="import-job"),
    path("p/<slug:slug>/items/", views_items.item_list, name="items"),
    path("p/<slug:slug>/items/<int:item_id>/", views_items.item_detail, name="item"),
    path(
        "p/<slug:slug>/items/<int:item_id>/image",
        views_items.item_file,
        {"which": "image"},
        name="item-image",
    ),
    path(
        "p/<slug:slug>/items/<int:item_id>/thumbnail",
        views_items.item_file,
        {"which": "thumbnail"},
        name="item-thumbnail",
    ),
    path("p/<slug:slug>/curation/", views_curation.curation_page, name="curation"),
    path("p/<slug:slug>/curation/decide/", views_curation.curation_decide, name="curation-decide"),
    path("p/<slug:slug>/curation/run/", views_curation.curation_run, name="curation-run"),
    path("p/<slug:slug>/audit/", views_projects.audit_log, name="audit"),
    path("p/<slug:slug>/label/", views_labeling.label_page, name="label"),
]
