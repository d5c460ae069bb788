from django.urls import path, register_converter

from annotation.api import labeling, views
from consensus import api as consensus_api


class RowId:
    """A database id in a URL: at most 2⁶³ − 1, so a longer number is a 404 like any missing row,
    not an overflow in the database driver."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        if int(value) > 2**63 - 1:
            raise ValueError(value)
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RowId, "id")

urlpatterns = [
    path("projects/", views.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", views.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", views.MemberListApi.as_view(), name="api-members"),
    path("projects/<slug:slug>/members/<id:user_id>/", views.MemberDetailApi.as_view(), name="api-member"),
    path("projects/<slug:slug>/rulebook/", views.RulebookCurrentApi.as_view(), name="api-rulebook"),
    path("projects/<slug:slug>/rulebook/versions/", views.RulebookVersionListApi.as_view(), name="api-rulebook-versions"),
    path("projects/<slug:slug>/rulebook/versions/<id:number>/", views.RulebookVersionDetailApi.as_view(), name="api-rulebook-version"),
    path("projects/<slug:slug>/rulebook/draft/", views.RulebookDraftApi.as_view(), name="api-rulebook-draft"),
    path("projects/<slug:slug>/rulebook/publish/", views.RulebookPublishApi.as_view(), name="api-rulebook-publish"),
    path("projects/<slug:slug>/items/", views.ItemListApi.as_view(), name="api-items"),
    path("projects/<slug:slug>/items/<id:item_id>/", views.ItemDetailApi.as_view(), name="api-item"),
    path("projects/<slug:slug>/imports/", views.ImportListApi.as_view(), name="api-imports"),
    path("projects/<slug:slug>/imports/<id:job_id>/", views.ImportDetailApi.as_view(), name="api-import"),
    path("projects/<slug:slug>/curation/", views.CurationApi.as_view(), name="api-curation"),
    path("projects/<slug:slug>/curation/run/", views.CurationRunApi.as_view(), name="api-curation-run"),
    path("projects/<slug:slug>/curation/decisions/", views.CurationDecisionApi.as_view(), name="api-curation-decisions"),
    path("projects/<slug:slug>/audit/", views.AuditListApi.as_view(), name="api-audit"),
    path("projects/<slug:slug>/next/", labeling.NextItemApi.as_view(), name="api-next"),
    path("projects/<slug:slug>/votes/", labeling.VoteCastApi.as_view(), name="api-votes"),
    path("projects/<slug:slug>/votes/undo/", labeling.VoteUndoApi.as_view(), name="api-vote-undo"),
    path("projects/<slug:slug>/leases/heartbeat/", labeling.LeaseHeartbeatApi.as_view(), name="api-heartbeat"),
    path("projects/<slug:slug>/leases/release/", labeling.LeaseReleaseApi.as_view(), name="api-release"),
    path("projects/<slug:slug>/votes/import/", consensus_api.VotesImportApi.as_view(), name="api-votes-import"),
    path("projects/<slug:slug>/consensus/", consensus_api.ConsensusRunApi.as_view(), name="api-consensus"),
    path("projects/<slug:slug>/export/", consensus_api.ExportApi.as_view(), name="api-export"),
    path("projects/<slug:slug>/progress/me/", labeling.MyProgressApi.as_view(), name="api-my-progress"),
]
