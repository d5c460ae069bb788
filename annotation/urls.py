from django.urls import path

import consensus.views as consensus_views

from . import views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("p/<slug:slug>/", views.project_overview, name="project"),
    path("p/<slug:slug>/settings/", views.project_settings, name="project-settings"),
    path("p/<slug:slug>/members/", views.members, name="members"),
    path("p/<slug:slug>/rulebook/", views.rulebook_view, name="rulebook"),
    path("p/<slug:slug>/rulebook/v<int:number>/", views.rulebook_view, name="rulebook-version"),
    path("p/<slug:slug>/rulebook/edit/", views.rulebook_edit, name="rulebook-edit"),
    path("p/<slug:slug>/rulebook/history/", views.rulebook_history, name="rulebook-history"),
    path("p/<slug:slug>/import/", views.import_page, name="import"),
    path("p/<slug:slug>/import/votes/", views.import_votes_page, name="import-votes"),
    path("p/<slug:slug>/imports/<int:job_id>/", views.import_job, name="import-job"),
    path("p/<slug:slug>/items/", views.item_list, name="items"),
    path("p/<slug:slug>/items/<int:item_id>/", views.item_detail, name="item"),
    path("p/<slug:slug>/items/<int:item_id>/image", views.item_file, {"which": "image"}, name="item-image"),
    path("p/<slug:slug>/items/<int:item_id>/thumbnail", views.item_file, {"which": "thumbnail"}, name="item-thumbnail"),
    path("p/<slug:slug>/audit/", views.audit_log, name="audit"),
    path("p/<slug:slug>/agreement/", consensus_views.agreement_page, name="agreement"),
    path(
        "p/<slug:slug>/agreement/reestimate/",
        consensus_views.agreement_reestimate,
        name="agreement-reestimate",
    ),
    path("p/<slug:slug>/label/", views.label_page, name="label"),
]
