"""The project dashboard's figures, read in one go (a selector module): what the people who run a
labeling effort look at — progress, pace, agreement, labels, the review backlog, who is working
now, and what curation turned away. The page renders it once and fetches it again when events say
something changed (see static/quorum/dashboard.js).

Every figure is a count over indexed columns or a bounded window (the last 24 hours of votes, the
last 40 estimates), so a refresh stays cheap on a project with millions of votes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from annotation.curation.selectors import curation_counts
from annotation.imports.models import ImportJob
from annotation.items.models import ItemState
from annotation.labeling.models import Lease, LeaseStatus, Vote, VoteKind
from annotation.projects.models import Project
from annotation.projects.selectors import project_progress
from consensus.decisions.models import Estimate, GroundTruth
from consensus.review.models import ReviewCase, ReviewReason

HOURS = 24
ESTIMATES = 40
ACTIVE_MINUTES = 10  # an annotator who voted this recently, or holds an item now, is active


def dashboard_snapshot(*, project: Project, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    labels = project.current_rulebook.labels if project.current_rulebook_id else []
    return {
        "generated_at": now.isoformat(),
        "items": project_progress(project=project),
        "states": [{"key": s.value, "name": s.label} for s in ItemState],
        "votes": _votes(project, now),
        "agreement": _agreement(project),
        "labels": _labels(project, labels, now),
        "review": _review(project, now),
        "active": _active(project, now),
        "curation": _curation(project),
    }


def _votes(project: Project, now: dt.datetime) -> dict[str, Any]:
    """Votes per hour over the last ``HOURS`` hours (oldest first, empty hours included)."""
    top = now.replace(minute=0, second=0, microsecond=0)
    since = top - dt.timedelta(hours=HOURS - 1)
    rows = (
        Vote.objects.filter(project=project, kind=VoteKind.VOTE, created_at__gte=since)
        .annotate(hour=TruncHour("created_at")).values("hour").annotate(n=Count("id")).order_by()
    )  # fmt: skip
    per_hour = {r["hour"]: r["n"] for r in rows}  # aware datetimes: equal whatever their zone
    series = [{"hour": h.isoformat(), "n": per_hour.get(h, 0)} for h in (since + dt.timedelta(hours=n) for n in range(HOURS))]
    total = Vote.objects.filter(project=project, kind=VoteKind.VOTE, superseded_by__isnull=True).count()
    return {"total": total, "per_hour": series, "last_hour": series[-1]["n"] if series else 0}


def _agreement(project: Project) -> dict[str, Any]:
    """Alpha of each of the latest estimates, oldest first (one every N votes and on demand)."""
    rows = list(
        Estimate.objects.filter(project=project).order_by("-id").values("created_at", "alpha", "votes")[:ESTIMATES]
    )[::-1]
    series = [{"at": r["created_at"].isoformat(), "alpha": r["alpha"], "votes": r["votes"]} for r in rows]
    return {"series": series, "latest": series[-1]["alpha"] if series else None}


def _labels(project: Project, labels: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Per label of the current rulebook: current ground truth, and votes in the last day."""
    truth = Counter(
        {
            _key(r["label"]): r["n"]
            for r in GroundTruth.objects.filter(project=project, withdrawn_at__isnull=True)
            .values("label").annotate(n=Count("id")).order_by()
        }
    )  # fmt: skip
    recent: Counter[str] = Counter()
    rows = (
        Vote.objects.filter(project=project, kind=VoteKind.VOTE, created_at__gte=now - dt.timedelta(hours=HOURS))
        .values("value").annotate(n=Count("id")).order_by()
    )  # fmt: skip
    for r in rows:
        for key in r["value"] if isinstance(r["value"], list) else [r["value"]]:
            recent[_key(key)] += r["n"]
    return [
        {"key": lab["key"], "name": lab.get("name") or lab["key"], "ground_truth": truth.get(lab["key"], 0),
         "votes_today": recent.get(lab["key"], 0)}
        for lab in labels
    ]  # fmt: skip


def _key(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _review(project: Project, now: dt.datetime) -> dict[str, Any]:
    open_cases = ReviewCase.objects.filter(project=project, resolved_at__isnull=True)
    by_reason = dict(open_cases.values_list("reason").annotate(n=Count("id")).order_by())
    held = open_cases.filter(claimed_by__isnull=False, claim_expires_at__gt=now).count()
    resolved_today = ReviewCase.objects.filter(
        project=project, resolved_at__gte=now - dt.timedelta(hours=HOURS)
    ).count()
    return {
        "open": sum(by_reason.values()),
        "held": held,
        "resolved_today": resolved_today,
        "by_reason": [{"key": v, "name": n, "n": by_reason.get(v, 0)} for v, n in ReviewReason.choices],
    }


def _active(project: Project, now: dt.datetime) -> list[dict[str, Any]]:
    """Annotators who voted in the last ``ACTIVE_MINUTES`` minutes or hold an item now, with their
    votes in the last hour; most recent first."""
    recent = (
        Vote.objects.filter(
            project=project, kind=VoteKind.VOTE, voter__user__isnull=False,
            created_at__gte=now - dt.timedelta(hours=1),
        )
        .values("voter__user__username")
        .annotate(last=Max("created_at"), hour=Count("id"))
        .order_by()
    )  # fmt: skip
    holding = dict(
        Lease.objects.filter(project=project, status=LeaseStatus.ACTIVE, expires_at__gt=now)
        .values_list("annotator__username").annotate(n=Count("id")).order_by()
    )  # fmt: skip
    voted = {r["voter__user__username"]: r for r in recent}
    cutoff = now - dt.timedelta(minutes=ACTIVE_MINUTES)
    active = [
        {"name": name, "last_vote": voted[name]["last"] if name in voted else None,
         "last_hour": voted[name]["hour"] if name in voted else 0, "holding": holding.get(name, 0)}
        for name in voted.keys() | holding.keys()
        if name in holding or voted[name]["last"] >= cutoff
    ]  # fmt: skip
    active.sort(key=lambda p: p["last_vote"] or now, reverse=True)
    return [{**p, "last_vote": p["last_vote"].isoformat() if p["last_vote"] else None} for p in active]


def _curation(project: Project) -> dict[str, Any]:
    """What imports turned away: rows refused (broken, too large, invalid) and rows skipped as
    exact duplicates of an item already there; near-duplicate clusters, and items with a flag
    no admin has decided on yet. (Excluded items are in ``items``.)"""
    imports = ImportJob.objects.filter(project=project).aggregate(
        failed=Sum("failed"), skipped=Sum("skipped"), jobs=Count("id"),
        running=Count("id", filter=Q(status__in=["pending", "running"])),
    )  # fmt: skip
    counts = curation_counts(project=project)
    return {
        "refused_rows": int(imports["failed"] or 0),
        "duplicate_rows": int(imports["skipped"] or 0),
        "imports": int(imports["jobs"] or 0),
        "imports_running": int(imports["running"] or 0),
        "clusters": counts["clusters"],
        "undecided": {f["key"]: f["undecided"] for f in counts["flags"] if f["undecided"]},
    }
