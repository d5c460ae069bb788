from django.urls import path, register_converter

from annotation.api import curation as api_curation
from annotation.api import imports as api_imports
from annotation.api import items as api_items
from annotation.api import labeling
from annotation.api import projects as api_projects
from annotation.api import rulebook as api_rulebook


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
    path("projects/", api_projects.ProjectListApi.as_view(), name="api-projects"),
    path("projects/<slug:slug>/", api_projects.ProjectDetailApi.as_view(), name="api-project"),
    path("projects/<slug:slug>/members/", api_projects.MemberListApi.as_view(), name="api-members"),
    path(
        "projects/<slug:slug>/members/<id:user_id>/",
        api_projects.MemberDetailApi.as_view(),
        name="api-member",
    ),
    path("projects/<slug:slug>/rulebook/", api_rulebook.RulebookCurrentApi.as_view(), name="api-rulebook"),
    path(
        "projects/<slug:slug>/rulebook/versions/",
        api_rulebook.RulebookVersionListApi.as_view(),
        name="api-rulebook-versions",
    ),
    path(
        "projects/<slug:slug>/rulebook/versions/<id:number>/",
        api_rulebook.RulebookVersionDetailApi.as_view(),
        name="api-rulebook-version",
    ),
    path(
        "projects/<slug:slug>/rulebook/draft/",
        api_rulebook.RulebookDraftApi.as_view(),
        name="api-rulebook-draft",
    ),
    path(
        "projects/<slug:slug>/rulebook/publish/",
        api_rulebook.RulebookPublishApi.as_view(),
        name="api-rulebook-publish",
    ),
    path("projects/<slug:slug>/items/", api_items.ItemListApi.as_view(), name="api-items"),
    path("projects/<slug:slug>/items/<id:item_id>/", api_items.ItemDetailApi.as_view(), name="api-item"),
    path("projects/<slug:slug>/imports/", api_imports.ImportListApi.as_view(), name="api-imports"),
    path(
        "projects/<slug:slug>/imports/<id:job_id>/", api_imports.ImportDetailApi.as_view(), name="api-import"
    ),
    path("projects/<slug:slug>/curation/", api_curation.CurationApi.as_view(), name="api-curation"),
    path(
        "projects/<slug:slug>/curation/run/", api_curation.CurationRunApi.as_view(), name="api-curation-run"
    ),
    path(
        "projects/<slug:slug>/curation/decisions/",
        api_curation.CurationDecisionApi.as_view(),
        name="api-curation-decisions",
    ),
    path("projects/<slug:slug>/audit/", api_projects.AuditListApi.as_view(), name="api-audit"),
    path("projects/<slug:slug>/next/", labeling.NextItemApi.as_view(), name="api-next"),
    path("projects/<slug:slug>/votes/", labeling.VoteCastApi.as_view(), name="api-votes"),
    path("projects/<slug:slug>/votes/undo/", labeling.VoteUndoApi.as_view(), name="api-vote-undo"),
    path(
        "projects/<slug:slug>/leases/heartbeat/", labeling.LeaseHeartbeatApi.as_view(), name="api-heartbeat"
    ),
    path("projects/<slug:slug>/leases/release/", labeling.LeaseReleaseApi.as_view(), name="api-release"),
    path("projects/<slug:slug>/progress/me/", labeling.MyProgressApi.as_view(), name="api-my-progress"),
]
