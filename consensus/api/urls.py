"""API of the consensus app: votes import, consensus runs, export."""

from django.urls import path

from consensus.api import views as consensus_api

urlpatterns = [
    path(
        "projects/<slug:slug>/votes/import/", consensus_api.VotesImportApi.as_view(), name="api-votes-import"
    ),
    path("projects/<slug:slug>/consensus/", consensus_api.ConsensusRunApi.as_view(), name="api-consensus"),
    path("projects/<slug:slug>/export/", consensus_api.ExportApi.as_view(), name="api-export"),
]
