"""Pages of the consensus app."""

from django.urls import path

from consensus.views import annotators as views_annotators
from consensus.views import reporting as views_reporting
from consensus.views import review as views_review

urlpatterns = [
    path("p/<slug:slug>/agreement/", views_reporting.agreement_page, name="agreement"),
    path(
        "p/<slug:slug>/agreement/reestimate/",
        views_reporting.agreement_reestimate,
        name="agreement-reestimate",
    ),
    path("p/<slug:slug>/dashboard/", views_reporting.dashboard_page, name="dashboard"),
    path("p/<slug:slug>/dashboard/data/", views_reporting.dashboard_data, name="dashboard-data"),
    path("p/<slug:slug>/review/", views_review.review_queue_page, name="review"),
    path("p/<slug:slug>/review/claim/", views_review.review_claim_view, name="review-claim"),
    path("p/<slug:slug>/review/<int:item_id>/", views_review.review_item_page, name="review-item"),
    path("p/<slug:slug>/review/<int:item_id>/<slug:action>/", views_review.review_act, name="review-act"),
    path("p/<slug:slug>/items/<int:item_id>/gold/", views_review.item_make_gold, name="item-make-gold"),
    path("p/<slug:slug>/annotators/", views_annotators.annotators_page, name="annotators"),
    path(
        "p/<slug:slug>/annotators/<int:voter_id>/<slug:action>/",
        views_annotators.annotator_suspension,
        name="annotator-suspension",
    ),
    path("p/<slug:slug>/me/", views_annotators.my_work_page, name="my-work"),
]
