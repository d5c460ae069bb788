"""Curation of a project's items: the run that turns stored measures into near-duplicate
clusters and quality flags, the admin's decisions (keep, exclude, undo), and the reads behind
the curation page. The algorithms are in ``annotation.curation``; this is where items become
arrays and results become rows.

A run recomputes every cluster and flag of the project from the measures each item got at
import (hash, sharpness, brightness, size), so a changed threshold takes effect on the next run
without reading any file again. Decisions live on the item and survive runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation import bulk, events
from annotation.curation import measures as curation
from annotation.curation.measures import IMAGE_FLAGS, TEXT_FLAGS
from annotation.curation.models import CurationDecision, DuplicateCluster
from annotation.exceptions import ValidationFailed
from annotation.items import transitions
from annotation.items.models import Item, ItemState
from annotation.projects.models import AuditEvent, ItemKind, Project
from annotation.projects.services import audit_record

DECISIONS = ("keep", "exclude", "undo")


MAX_DECISION_ITEMS = 5_000


def signed(value: int | None) -> int | None:
    """An unsigned 64-bit hash as the signed integer a BIGINT column holds."""
    if value is None:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value


def thresholds(project: Project) -> curation.Thresholds:
    return curation.Thresholds(
        blur=project.blur_threshold,
        dark=project.dark_threshold,
        bright=project.bright_threshold,
        min_side=project.min_image_side,
        min_text_chars=project.min_text_chars,
    )


@dataclass(frozen=True)
class CurationSummary:
    clusters: int
    clustered_items: int
    flagged: dict[str, int]
    seconds: float


@transaction.atomic
def curation_run(*, project: Project, actor: AbstractBaseUser | None = None) -> CurationSummary:
    """Re-cluster the project's near-duplicates and recompute every item's flags.

    Takes the project's row lock, so two runs (an import finishing while an admin asks for a
    run) follow one another. Items imported before curation existed get their text SimHash here.
    """
    started = timezone.now()
    project = Project.objects.select_for_update().get(pk=project.pk)
    is_text = project.item_kind == ItemKind.TEXT
    t = thresholds(project)
    fields = ["pk", "near_hash", "width", "height", "sharpness", "brightness", "flags", "state", "curation",
              "cluster", "cluster_distance", "colour_r", "colour_g"]  # fmt: skip
    items = Item.objects.filter(project=project).order_by("pk")
    rows = list(items.values_list(*fields, *(["text"] if is_text else []), named=True))
    if is_text:
        missing = [n for n, r in enumerate(rows) if r.near_hash is None]
        if missing:
            sig = curation.simhash_texts([rows[n].text for n in missing])
            for n, s in zip(missing, sig, strict=True):
                rows[n] = rows[n]._replace(near_hash=signed(int(s)))
            bulk.update_rows(Item, ["near_hash"], [(rows[n].pk, rows[n].near_hash) for n in missing])
    pks = np.array([r.pk for r in rows], dtype=np.int64)
    hashed = np.array([n for n, r in enumerate(rows) if r.near_hash is not None], dtype=np.int64)
    hashes = np.array([rows[n].near_hash for n in hashed], dtype=np.int64).view(np.uint64)

    # Quality flags come from each item's own measures; clusters may not change them.
    if is_text:
        quality = [curation.text_flags(r.text, t) for r in rows]
    else:
        quality = [
            curation.image_flags(sharpness=r.sharpness, brightness=r.brightness, width=r.width, height=r.height, t=t)
            for r in rows
        ]  # fmt: skip

    # Clusters. The representative is an item still in play, then one without a quality flag,
    # then (images) the largest and sharpest, then the oldest.
    in_play = np.array([rows[n].state != ItemState.EXCLUDED for n in hashed])
    clean = np.array([not quality[n] for n in hashed])
    keys: list[np.ndarray] = [-np.arange(len(hashed))]  # lexsort: the last key counts first
    colour = None
    if not is_text:
        keys.append(np.array([rows[n].sharpness or 0.0 for n in hashed], dtype=float))
        keys.append(np.array([(rows[n].width or 0) * (rows[n].height or 0) for n in hashed], dtype=np.int64))
        # Grayscale images and items imported before colours were measured have none (NaN).
        colour = np.array([(rows[n].colour_r, rows[n].colour_g) for n in hashed], dtype=float).reshape(-1, 2)
    rank = np.empty(len(hashed), dtype=np.int64)
    rank[np.lexsort((*keys, clean, in_play))] = np.arange(len(hashed))
    found = curation.near_clusters(hashes, project.near_duplicate_distance, rank, colour=colour)

    # A cluster keeps its id from the last run when its representative's cluster is still free,
    # so a re-run writes only the items whose cluster, distance or flags changed.
    old_cluster = {r.pk: r.cluster for r in rows if r.cluster is not None}
    reused: dict[int, int] = {}  # index in found -> kept cluster id
    old_cluster_claimed: set[int] = set()
    for k, c in enumerate(found):
        was = old_cluster.get(int(pks[hashed[c.members[0]]]))
        if was is not None and was not in old_cluster_claimed:
            reused[k] = was
            old_cluster_claimed.add(was)
    kept = DuplicateCluster.objects.in_bulk(list(reused.values()))
    cluster_ids: list[int] = []
    fresh: list[DuplicateCluster] = []
    resized: list[tuple[int, int, int]] = []
    for k, c in enumerate(found):
        rep, size = int(pks[hashed[c.members[0]]]), len(c.members)
        if k in reused:
            cluster_ids.append(reused[k])
            if (kept[reused[k]].representative_id, kept[reused[k]].size) != (rep, size):
                resized.append((reused[k], rep, size))
        else:
            cluster_ids.append(-1)
            fresh.append(DuplicateCluster(project=project, representative_id=rep, size=size))
    made = iter(DuplicateCluster.objects.bulk_create(fresh))
    cluster_ids = [cid if cid != -1 else next(made).pk for cid in cluster_ids]
    bulk.update_rows(DuplicateCluster, ["representative", "size"], resized)
    placed: dict[int, tuple[int, int, float | None]] = {}  # pk -> cluster, distance, near_duplicate flag
    for cid, c in zip(cluster_ids, found, strict=True):
        for m in c.members:
            distance = int(c.distance[m])
            placed[int(pks[hashed[m]])] = (cid, distance, float(distance) if m != c.members[0] else None)

    # Flags, cluster and distance of each item, written once and only where they changed.
    changed: list[tuple[int, int | None, int | None, dict[str, float]]] = []
    counts = dict.fromkeys(TEXT_FLAGS if is_text else IMAGE_FLAGS, 0)
    for r, flags in zip(rows, quality, strict=True):
        cluster_id, distance, near = placed.get(r.pk, (None, None, None))
        if near is not None:
            flags = {"near_duplicate": near, **flags}
        for name in flags:
            counts[name] += 1
        if (cluster_id, distance, flags) != (r.cluster, r.cluster_distance, r.flags):
            changed.append((r.pk, cluster_id, distance, flags))
    bulk.update_rows(Item, ["cluster", "cluster_distance", "flags"], changed)
    stale = set(DuplicateCluster.objects.filter(project=project).values_list("pk", flat=True)) - set(cluster_ids)
    DuplicateCluster.objects.filter(pk__in=stale).delete()  # no item points at them any more

    seconds = (timezone.now() - started).total_seconds()
    summary = CurationSummary(
        clusters=len(found), clustered_items=sum(len(c.members) for c in found), flagged=counts, seconds=seconds
    )
    audit_record(
        project=project, actor=actor, verb="curation.run", obj=project,
        after={"clusters": summary.clusters, "clustered_items": summary.clustered_items, "flagged": counts,
               "items": len(rows), "items_changed": len(changed), "near_duplicate_distance": project.near_duplicate_distance},
    )  # fmt: skip
    events.curation_updated(project.pk, clusters=summary.clusters, flagged=counts)
    return summary


@transaction.atomic
def curation_decide(*, project: Project, actor: AbstractBaseUser, item_ids: list[int], decision: str) -> int:
    """Keep, exclude, or undo the decision on items of the project; returns how many changed.

    Exclude takes the item out of every queue (``transitions.items_exclude``: state ``excluded``,
    its leases revoked and their holders told) and remembers the state it had; keep and undo on
    an excluded item put that state back (``transitions.items_restore``). Each change is an audit
    event with the before and after. All or nothing: an id that is not an item of the project
    refuses the whole request.
    """
    if decision not in DECISIONS:
        raise ValidationFailed("Unknown decision.", [{"field": "decision", "message": f"use one of {', '.join(DECISIONS)}"}])
    ids = sorted({int(x) for x in item_ids})
    if not ids:
        raise ValidationFailed("Choose at least one item.", [{"field": "items", "message": "no items chosen"}])
    if len(ids) > MAX_DECISION_ITEMS:
        raise ValidationFailed(
            "Too many items at once.", [{"field": "items", "message": f"at most {MAX_DECISION_ITEMS:,} per request"}]
        )
    items = {it.pk: it for it in Item.objects.select_for_update().filter(project=project, pk__in=ids).order_by("pk")}
    unknown = [x for x in ids if x not in items]
    if unknown:
        raise ValidationFailed(
            "Some items are not in this project; nothing was changed.",
            [{"field": "items", "message": f"no item {x} in this project"} for x in unknown[:20]],
        )
    target = {"exclude": CurationDecision.EXCLUDED, "keep": CurationDecision.KEPT, "undo": CurationDecision.NONE}[decision]
    changed = [it for it in items.values() if it.curation != target]
    if not changed:
        return 0
    # What the audit event of each item says besides its state.
    details = {
        it.pk: ({"curation": it.curation}, {"curation": target, "item": it.external_id or it.pk}) for it in changed
    }
    why = transitions.Why(verb=f"curation.{decision}", actor=actor)
    if decision == "exclude":
        moved = set(transitions.items_exclude(
            project=project, item_ids=[it.pk for it in changed], why=why, reason="excluded in curation",
            notice="An admin took this item out of labeling.", restorable=True, details=details, now=timezone.now(),
        ))  # fmt: skip
    else:
        excluded = [it.pk for it in changed if it.curation == CurationDecision.EXCLUDED]
        moved = set(transitions.items_restore(project=project, item_ids=excluded, why=why, details=details))
    Item.objects.filter(pk__in=[it.pk for it in changed]).update(curation=target)
    # Items whose state did not move are audited here (the transition audits those it moved).
    AuditEvent.objects.bulk_create([
        AuditEvent(
            project=project, actor=actor if actor.is_authenticated else None, verb=why.verb, object_type="item",
            object_id=str(it.pk), before={"state": it.state, **details[it.pk][0]}, after={"state": it.state, **details[it.pk][1]},
        )
        for it in changed if it.pk not in moved
    ])  # fmt: skip
    events.curation_decided(project.pk, decision=decision, items=len(changed))
    return len(changed)
