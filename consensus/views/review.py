"""Review pages: the queue, claiming, deciding an item, making gold."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from annotation.exceptions import Conflict, NotFound, ValidationFailed
from annotation.items.selectors import item_get
from annotation.projects.models import Role
from annotation.projects.selectors import ProjectAccess
from annotation.rulebook.models import ClarificationNote
from annotation.views.projects import page_context, project_page
from consensus.decisions import selectors as decisions_selectors
from consensus.decisions.models import GroundTruth
from consensus.review import selectors as review_selectors
from consensus.review import services as review
from consensus.review.models import ReviewCase, ReviewReason


def _filters(data: Any, prefix: str = "") -> dict[str, str]:
    """The queue's filters from a query string, or from a review form (``prefix`` "filter_")."""
    reason = data.get(prefix + "reason", "")
    return {
        "reason": reason if reason in ReviewReason.values else "",
        "label": str(data.get(prefix + "label", ""))[:60],
    }


def _query(filters: dict[str, str]) -> str:
    q = urlencode({k: v for k, v in filters.items() if v})
    return f"?{q}" if q else ""


@project_page(Role.REVIEWER)
def review_queue_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    project = access.project
    filters = _filters(request.GET)
    page = Paginator(review_selectors.review_queue(project=project, **filters), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "consensus/review_queue.html",
        page_context(
            access, page=page, filters=filters, query=_query(filters),
            reasons=ReviewReason.choices, counts=review_selectors.review_counts(project=project),
            labels=project.current_rulebook.labels if project.current_rulebook else [],
        ),
    )  # fmt: skip


@project_page(Role.REVIEWER)
@require_POST
def review_claim_view(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """Claim the item named in the form, or the next one (with the queue's filters)."""
    filters = _filters(request.POST)
    raw = request.POST.get("item", "")
    item_id = int(raw) if raw.isdigit() else None
    try:
        case = review.review_claim(project=access.project, reviewer=request.user, item_id=item_id, **filters)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect(reverse("review", args=[access.project.slug]) + _query(filters))
    if case is None:
        messages.info(request, "Nothing left to review" + (" with these filters." if any(filters.values()) else "."))
        return redirect(reverse("review", args=[access.project.slug]) + _query(filters))
    return redirect(reverse("review-item", args=[access.project.slug, case.item_id]) + _query(filters))


@project_page(Role.REVIEWER)
def review_item_page(request: HttpRequest, access: ProjectAccess, item_id: int) -> HttpResponse:
    project = access.project
    item = item_get(project=project, item_id=item_id)
    case = ReviewCase.objects.filter(item=item, resolved_at__isnull=True).select_related("claimed_by").first()
    now = timezone.now()
    holder_id = case.holder_id(now) if case is not None else None
    mine = holder_id == request.user.pk
    holder = case.claimed_by if holder_id is not None and not mine else None
    votes = review_selectors.item_votes_for_review(project=project, item_id=item_id)
    version = project.current_rulebook
    rulebook = version.labels if version else []
    in_play = {str(v.value) for v in votes if isinstance(v.value, str)} | {
        str(x) for v in votes if isinstance(v.value, list) for x in v.value
    }
    c = decisions_selectors.item_consensus(project=project, item_id=item_id)
    return render(
        request,
        "consensus/review_item.html",
        page_context(
            access, item=item, case=case, mine=mine, holder=holder, votes=votes,
            entries=[lab for lab in rulebook if lab["key"] in in_play] or rulebook, rulebook=rulebook,
            posterior=sorted(c.distribution.items(), key=lambda kv: -kv[1]),
            history=decisions_selectors.item_history(project=project, item_id=item_id),
            ground_truth=GroundTruth.objects.filter(item=item, withdrawn_at__isnull=True).select_related("reviewer").first(),
            filters=_filters(request.GET), query=_query(_filters(request.GET)),
            notes=ClarificationNote.objects.filter(project=project, item=item).select_related("author"),
            page_config={"slug": project.slug, "item": item.pk, "mine": bool(mine), "leaseSeconds": project.lease_seconds,
                         "labels": [{"key": lab["key"], "hotkey": lab.get("hotkey", "")} for lab in rulebook]},
        ),
    )  # fmt: skip


@project_page(Role.REVIEWER)
@require_POST
def review_act(request: HttpRequest, access: ProjectAccess, item_id: int, action: str) -> HttpResponse:
    """One reviewer action on the item they hold; afterwards the next item (same filters)."""
    project, user, post = access.project, request.user, request.POST
    filters = _filters(post, prefix="filter_")
    back = reverse("review-item", args=[project.slug, item_id]) + _query(filters)
    try:
        if action == "decide":
            review.review_decide(project=project, reviewer=user, item_id=item_id, label=post.get("label", ""), reason=post.get("reason", ""))
            messages.success(request, f"Ground truth set to {post.get('label')!r}.")
        elif action == "send-back":
            review.review_send_back(project=project, reviewer=user, item_id=item_id, reason=post.get("reason", ""))
            messages.success(request, "Sent back for one more vote.")
        elif action == "exclude":
            review.review_exclude(project=project, reviewer=user, item_id=item_id, reason=post.get("reason", ""))
            messages.success(request, "Item excluded.")
        elif action == "note":
            review.clarification_request(project=project, author=user, label=post.get("label", ""), text=post.get("text", ""), item_id=item_id)
            messages.success(request, "Clarification note sent to the admins.")
            return redirect(back)
        elif action == "release":
            review.review_release(project=project, reviewer=user, item_id=item_id)
            return redirect(reverse("review", args=[project.slug]) + _query(filters))
        elif action == "heartbeat":
            expires = review.review_heartbeat(project=project, reviewer=user, item_id=item_id)
            return JsonResponse({"expires_at": expires.isoformat()})
        else:
            raise Http404("No such action.")
    except ValidationFailed as exc:
        detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors) or exc.message
        messages.error(request, f"{exc.message} ({detail})" if exc.errors else exc.message)
        return redirect(back)
    except (Conflict, NotFound) as exc:
        if action == "heartbeat":
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=409)
        messages.error(request, exc.message)
        return redirect(back)
    nxt = review.review_claim(project=project, reviewer=user, **filters)
    if nxt is None:
        return redirect(reverse("review", args=[project.slug]) + _query(filters))
    return redirect(reverse("review-item", args=[project.slug, nxt.item_id]) + _query(filters))


@project_page(Role.REVIEWER)
@require_POST
def item_make_gold(request: HttpRequest, access: ProjectAccess, item_id: int) -> HttpResponse:
    try:
        item = review.gold_from_ground_truth(project=access.project, actor=request.user, item_id=item_id)
        messages.success(request, f"The item is now gold with {item.gold!r}.")
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("item", slug=access.project.slug, item_id=item_id)
