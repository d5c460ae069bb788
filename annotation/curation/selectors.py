"""Reads for the curation page: counts per flag, clusters, their members, flagged items."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from annotation.curation.measures import FLAG_NAMES, IMAGE_FLAGS, TEXT_FLAGS
from annotation.curation.models import CurationDecision, DuplicateCluster
from annotation.items.models import Item
from annotation.projects.models import ItemKind, Project


def curation_counts(*, project: Project) -> dict[str, Any]:
    """Clusters, and per flag how many items carry it and how many of those are undecided."""
    names = TEXT_FLAGS if project.item_kind == ItemKind.TEXT else IMAGE_FLAGS
    items = Item.objects.filter(project=project)
    agg = items.aggregate(
        excluded=Count("pk", filter=Q(curation=CurationDecision.EXCLUDED)),
        kept=Count("pk", filter=Q(curation=CurationDecision.KEPT)),
        **{f"f_{n}": Count("pk", filter=Q(flags__has_key=n)) for n in names},
        **{f"u_{n}": Count("pk", filter=Q(flags__has_key=n, curation="")) for n in names},
    )  # fmt: skip
    clusters = DuplicateCluster.objects.filter(project=project)
    return {
        "clusters": clusters.count(),
        "clusters_open": clusters.filter(items__curation="", items__flags__has_key="near_duplicate").distinct().count(),
        "excluded": agg["excluded"],
        "kept": agg["kept"],
        "flags": [
            {"key": n, "name": FLAG_NAMES[n], "total": agg[f"f_{n}"], "undecided": agg[f"u_{n}"]} for n in names
        ],
    }


def cluster_list(*, project: Project, undecided_only: bool) -> QuerySet[DuplicateCluster]:
    """Clusters, largest first; with ``undecided_only``, those with a member still undecided."""
    qs = DuplicateCluster.objects.filter(project=project)
    if undecided_only:
        qs = qs.filter(pk__in=Item.objects.filter(project=project, curation="", flags__has_key="near_duplicate").values("cluster_id"))
    return qs.order_by("-size", "id")


def cluster_position(*, cluster: DuplicateCluster) -> int:
    """Where the cluster stands among all of its project's clusters in ``cluster_list``'s order
    (largest first, then oldest), from 0: the page it is on."""
    ahead = Q(size__gt=cluster.size) | Q(size=cluster.size, id__lt=cluster.pk)
    return DuplicateCluster.objects.filter(ahead, project_id=cluster.project_id).count()


def cluster_members(*, clusters: list[DuplicateCluster]) -> dict[int, list[Item]]:
    """The items of these clusters, representative first, in one query."""
    out: dict[int, list[Item]] = {c.pk: [] for c in clusters}
    reps = {c.pk: c.representative_id for c in clusters}
    for item in Item.objects.filter(cluster_id__in=list(out)).order_by("cluster_distance", "pk"):
        out[item.cluster_id].append(item)  # type: ignore[index]
    for pk, items in out.items():
        items.sort(key=lambda it, rep=reps[pk]: it.pk != rep)
    return out


def flagged_items(*, project: Project, flag: str, undecided_only: bool) -> QuerySet[Item]:
    qs = Item.objects.filter(project=project, flags__has_key=flag)
    if undecided_only:
        qs = qs.filter(curation="")
    return qs.order_by("pk")
