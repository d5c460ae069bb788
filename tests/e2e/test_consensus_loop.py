"""The consensus loop in the browser: three demo annotators vote on the same three items.

An item they agree on becomes ground truth; a two-to-one item does too; an item split three
ways is asked for a fourth vote, and, still split at ``max_votes``, lands in review, where the
admin finds it in the item list.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.items.models import Item
from annotation.labeling.models import Lease, Vote
from annotation.projects import services as projects_services
from annotation.projects.models import Project
from consensus.decisions.models import GroundTruth
from tests.e2e.conftest import log_in, off_loop
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_PASSWORD = "quorum-demo"
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def open_labeler(browser, live_server, username: str, password: str = DEMO_PASSWORD):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, username, password)
    page.goto("/p/digits/label/")
    page.wait_for_selector("#item-image:not([hidden])")
    page.wait_for_function("document.querySelector('#item-name').textContent.length > 0")
    page.wait_for_function("document.querySelector('[data-progress=left]').textContent !== '–'")
    return context, page


def current_item(page) -> int:
    return int(page.locator("#item-name").inner_text().removeprefix("· #"))


def vote(page, digit: int, *, last: bool = False) -> None:
    """Choose a label by its hotkey, submit with Enter, and wait for the page to move on."""
    before = current_item(page)
    page.keyboard.press(str(digit))
    assert page.locator(f".label-button[data-key={NAMES[digit]}]").get_attribute("aria-pressed") == "true"
    page.keyboard.press("Enter")
    if last:
        page.wait_for_function("document.querySelector('#placeholder').textContent.includes('Nothing left')")
    else:
        page.wait_for_function(
            "prev => { const t = document.querySelector('#item-name').textContent; return t && t !== '· #' + prev; }",
            arg=before,
        )


def test_agreement_promotes_and_a_split_at_max_votes_goes_to_review(browser, live_server, shot, settings):
    # Items are decided on the assumed 80% accuracy, not on a project-wide re-estimate.
    settings.QUORUM_REESTIMATE_EVERY = 10**9
    off_loop(call_command, "demo", items=40)
    project = Project.objects.get(slug="digits")
    admin = get_user_model().objects.get(username="admin")
    off_loop(projects_services.project_update, actor=admin, project=project, gold_rate=0, max_votes=4)
    project.refresh_from_db()
    thresholds = (project.min_votes, project.max_votes, project.promote_posterior, project.promote_agreement)
    assert thresholds == (3, 4, 0.9, 0.6)
    # Three ordinary queued items (not gold, not a rulebook example); the rest leave the queue.
    a, b, c = Item.objects.filter(project=project, state="queued", gold__isnull=True).order_by("pk")[:3]
    Item.objects.filter(project=project).exclude(pk__in=[a.pk, b.pk, c.pk]).update(state="excluded")

    # What each annotator answers, by item: A unanimous, B three different digits, C two to one.
    plan = {
        "annotator1": {a.pk: 3, b.pk: 1, c.pk: 7},
        "annotator2": {a.pk: 3, b.pk: 2, c.pk: 7},
        "annotator3": {a.pk: 3, b.pk: 4, c.pk: 9},
    }
    pages = {name: open_labeler(browser, live_server, name) for name in plan}

    # Round robin: each annotator answers whatever item their page shows, one per round.
    for rnd in range(3):
        for name, answers in plan.items():
            page = pages[name][1]
            item_id = current_item(page)
            assert item_id in answers, f"{name} was offered item {item_id}, outside the three"
            votes_before = Vote.objects.filter(item_id=item_id, kind="vote").count()
            vote(page, answers.pop(item_id), last=rnd == 2)
            item = Item.objects.get(pk=item_id)
            assert Vote.objects.filter(item_id=item_id, kind="vote", voter__user__username=name).count() == 1
            assert Vote.objects.filter(item_id=item_id, kind="vote").count() == votes_before + 1
            if votes_before + 1 < 3:
                assert item.state == "queued", f"item {item_id} decided after {votes_before + 1} votes"
                assert not GroundTruth.objects.filter(item_id=item_id).exists()
            assert page.locator("[data-progress=today]").inner_text() == str(rnd + 1)
    assert all(not answers for answers in plan.values())
    for _, page in pages.values():
        assert page.locator("#submit").is_disabled()
    shot(pages["annotator3"][1], "consensus-annotator3-done")

    # A: three votes for "three" → ground truth with its provenance.
    a.refresh_from_db()
    assert a.state == "ground_truth"
    gt_a = GroundTruth.objects.get(item=a, withdrawn_at__isnull=True)
    a_votes = set(Vote.objects.filter(item=a, kind="vote").values_list("pk", flat=True))
    assert gt_a.label == "three" and gt_a.source == "consensus"
    assert len(gt_a.votes) == 3 and set(gt_a.votes) == a_votes
    assert gt_a.posterior >= 0.9 and gt_a.agreement == pytest.approx(1.0)
    assert gt_a.method and gt_a.rulebook_version_id == project.current_rulebook_id and gt_a.decided_at
    assert gt_a.params.get("unestimated_accuracy") == 0.8

    # C: "seven", "seven", "nine" → promoted too (agreement 2/3, posterior ~0.97).
    c.refresh_from_db()
    assert c.state == "ground_truth"
    gt_c = GroundTruth.objects.get(item=c, withdrawn_at__isnull=True)
    assert gt_c.label == "seven" and len(gt_c.votes) == 3
    assert gt_c.agreement == pytest.approx(2 / 3) and 0.9 <= gt_c.posterior < gt_a.posterior

    # B: "one", "two", "four" → a tie: one more vote asked for, still in the queue.
    b.refresh_from_db()
    assert (b.state, b.extra_votes, b.votes_count) == ("queued", 1, 3)
    assert not GroundTruth.objects.filter(item=b).exists()

    # A fourth annotator is offered B, and only B, and answers a fourth digit.
    off_loop(UserFactory, username="annotator4")
    off_loop(projects_services.member_add, actor=admin, project=project, username="annotator4", role="annotator")
    context4, page4 = open_labeler(browser, live_server, "annotator4", PASSWORD)
    assert current_item(page4) == b.pk
    page4.keyboard.press("5")
    shot(page4, "consensus-annotator4-split-item")
    page4.keyboard.press("Enter")
    page4.wait_for_function("document.querySelector('#placeholder').textContent.includes('Nothing left')")
    shot(page4, "consensus-annotator4-done")
    offered = Lease.objects.filter(annotator__username="annotator4").values_list("item_id", flat=True)
    assert list(offered) == [b.pk]

    # Still split at max_votes (4): B goes to review, with no ground truth.
    b.refresh_from_db()
    assert b.state == "review"
    assert sorted(Vote.objects.filter(item=b, kind="vote").values_list("value", flat=True)) == sorted(
        ["one", "two", "four", "five"]
    )
    assert not GroundTruth.objects.filter(item=b).exists()
    for context, _ in pages.values():
        context.close()
    context4.close()

    # The admin finds B, and only B, under review in the item list.
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    page = admin_context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, "admin", DEMO_PASSWORD)
    page.goto("/p/digits/items/")
    page.get_by_label("State").select_option("review")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/p/digits/items/?state=review*")
    thumbs = page.locator("#items .thumb")
    assert thumbs.count() == 1
    assert thumbs.first.get_attribute("href").rstrip("/").endswith(f"/items/{b.pk}")
    assert thumbs.first.locator(".cap").inner_text() == b.external_id
    assert thumbs.first.locator(".state").inner_text() == "In review"
    assert page.locator("h1 + .muted").inner_text() == "1 match"
    shot(page, "consensus-items-in-review")
    page.get_by_label("State").select_option("ground_truth")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/p/digits/items/?state=ground_truth*")
    promoted = page.locator("#items .thumb .cap").all_inner_texts()
    assert sorted(promoted) == sorted([a.external_id, c.external_id])
    admin_context.close()
