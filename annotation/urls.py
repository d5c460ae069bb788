from django.urls import path

import consensus.views as consensus_views
from annotation import views

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
    path(
        "p/<slug:slug>/rulebook/notes/<int:note_id>/resolve/",
        views.clarification_resolve,
        name="clarification-resolve",
    ),
    path("p/<slug:slug>/import/", views.import_page, name="import"),
    path("p/<slug:slug>/import/votes/", views.import_votes_page, name="import-votes"),
    path("p/<slug:slug>/imports/<int:job_id>/", views.import_job, name="import-job"),
    path("p/<slug:slug>/items/", views.item_list, name="items"),
    path("p/<slug:slug>/items/<int:item_id>/", views.item_detail, name="item"),
    path("p/<slug:slug>/items/<int:item_id>/image", views.item_file, {"which": "image"}, name="item-image"),
    path("p/<slug:slug>/items/<int:item_id>/thumbnail", views.item_file, {"which": "thumbnail"}, name="item-thumbnail"),
    path("p/<slug:slug>/curation/", views.curation_page, name="curation"),
    path("p/<slug:slug>/curation/decide/", views.curation_decide, name="curation-decide"),
    path("p/<slug:slug>/curation/run/", views.curation_run, name="curation-run"),
    path("p/<slug:slug>/audit/", views.audit_log, name="audit"),
    path("p/<slug:slug>/agreement/", consensus_views.agreement_page, name="agreement"),
    path(
        "p/<slug:slug>/agreement/reestimate/",
        consensus_views.agreement_reestimate,
        name="agreement-reestimate",
    ),
    path("p/<slug:slug>/label/", views.label_page, name="label"),
    path("p/<slug:slug>/dashboard/", consensus_views.dashboard_page, name="dashboard"),
    path("p/<slug:slug>/dashboard/data/", consensus_views.dashboard_data, name="dashboard-data"),
    path("p/<slug:slug>/review/", consensus_views.review_queue_page, name="review"),
    path("p/<slug:slug>/review/claim/", consensus_views.review_claim_view, name="review-claim"),
    path("p/<slug:slug>/review/<int:item_id>/", consensus_views.review_item_page, name="review-item"),
    path(
        "p/<slug:slug>/review/<int:item_id>/<slug:action>/", consensus_views.review_act, name="review-act"
    ),
    path("p/<slug:slug>/items/<int:item_id>/gold/", consensus_views.item_make_gold, name="item-make-gold"),
    path("p/<slug:slug>/annotators/", consensus_views.annotators_page, name="annotators"),
    path(
        "p/<slug:slug>/annotators/<str:key>/<slug:action>/",
        consensus_views.annotator_suspension,
        name="annotator-suspension",
    ),
    path("p/<slug:slug>/me/", consensus_views.my_work_page, name="my-work"),
]
