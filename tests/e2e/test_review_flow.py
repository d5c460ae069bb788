"""Two reviewers work the same review queue in two browsers.

They never get the same item at once; a label chosen with a reason becomes ground truth naming
the reviewer; "send back" puts the item in front of an annotator who has not seen it; a
clarification note reaches the admin's rulebook draft.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.projects import services as projects_services
from annotation.projects.models import Project
from consensus.decisions.models import GroundTruth
from consensus.decisions.services import consensus_reestimate
from consensus.review.models import ReviewCase
from tests.e2e.conftest import log_in, off_loop
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
DEMO_PASSWORD = "quorum-demo"


def split(project, users, item_id, answers):
    for user, value in zip(users, answers, strict=True):
        lease = labeling.item_lease_next(project=project, annotator=user)
        assert lease.item_id == item_id
        labeling.vote_cast(project=project, annotator=user, item_id=item_id, client_id=f"e2e-{user.pk}-{item_id}", value=value)


def open_as(browser, live_server, username, password):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, username, password)
    return page


def item_on(page) -> int:
    return int(re.search(r"/review/(\d+)/", page.url).group(1))


def test_two_reviewers_share_the_queue_and_their_decisions_are_recorded(browser, live_server, shot, settings):
    settings.QUORUM_REESTIMATE_EVERY = 10**9
    off_loop(call_command, "demo", items=20)
    project = Project.objects.get(slug="digits")
    admin = get_user_model().objects.get(username="admin")
    off_loop(projects_services.project_update, actor=admin, project=project, gold_rate=0, min_votes=2, max_votes=2)
    project.refresh_from_db()
    items = list(Item.objects.filter(project=project, state="queued", gold__isnull=True).order_by("pk")[:3])
    Item.objects.filter(project=project).exclude(pk__in=[i.pk for i in items]).update(state="excluded")
    a1, a2, a3 = (get_user_model().objects.get(username=f"annotator{n}") for n in (1, 2, 3))
    for item in items:
        off_loop(split, project, (a1, a2), item.pk, ("one", "seven"))
    assert set(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("state", flat=True)) == {ItemState.REVIEW}
    second = UserFactory(username="reviewer2")
    off_loop(projects_services.member_add, actor=admin, project=project, username=second.username, role="reviewer")

    first_page = open_as(browser, live_server, "reviewer", DEMO_PASSWORD)
    second_page = open_as(browser, live_server, "reviewer2", PASSWORD)
    for page in (first_page, second_page):
        page.goto("/p/digits/review/")
        assert page.locator("#review-table tbody tr").count() == 3
        page.get_by_role("button", name="Review the next item").click()
        page.wait_for_url(re.compile(r"/review/\d+/"))
    mine, theirs = item_on(first_page), item_on(second_page)
    assert mine != theirs  # never the same item at once
    shot(first_page, "review-item")

    # The queue shows who holds what; the held item refuses a second reviewer.
    second_page.goto("/p/digits/review/")
    assert second_page.locator(f"tr[data-item='{mine}'] .holder").inner_text() == "reviewer"
    second_page.goto(f"/p/digits/review/{mine}/")
    assert "reviewer is reviewing this item now" in second_page.get_by_test_id("status").inner_text()
    assert second_page.locator("#decide-form").count() == 0

    # Reviewer 1 decides by keyboard: hotkey 7, r for the reason, Ctrl+Enter.
    first_page.wait_for_load_state("load")
    first_page.keyboard.press("7")
    first_page.keyboard.press("r")
    first_page.keyboard.type("the closed top says seven")
    first_page.keyboard.press("Control+Enter")
    first_page.wait_for_url(lambda url: f"/review/{mine}/" not in url)
    gt = GroundTruth.objects.get(item_id=mine, withdrawn_at__isnull=True)
    assert (gt.label, gt.source, gt.reviewer.username, gt.reason) == ("seven", "review", "reviewer", "the closed top says seven")
    assert first_page.get_by_role("status").first.inner_text().startswith("Ground truth set to")

    # Reviewer 2 sends theirs back: it goes to an annotator who has not voted on it.
    second_page.goto(f"/p/digits/review/{theirs}/")
    second_page.wait_for_load_state("load")
    second_page.keyboard.press("b")
    second_page.wait_for_url(lambda url: f"/review/{theirs}/" not in url)
    assert Item.objects.get(pk=theirs).state == ItemState.QUEUED
    lease = off_loop(labeling.item_lease_next, project=project, annotator=a3)
    assert lease is not None and lease.item_id == theirs

    # A clarification note from the review page reaches the admin's rulebook draft.
    page = second_page
    third = ReviewCase.objects.get(resolved_at__isnull=True)
    assert third.claimed_by.username == "reviewer"  # reviewer 1 took the next item on the way
    page.goto(f"/p/digits/review/{third.item_id}/")  # any reviewer may ask for a clarification
    page.wait_for_load_state("load")
    page.keyboard.press("c")
    page.locator("#note-label").select_option("one")
    page.locator("#note-text").fill("Does a one with a base stroke count as one?")
    page.get_by_role("button", name="Send to the admins").click()
    page.wait_for_load_state()
    admin_page = open_as(browser, live_server, "admin", DEMO_PASSWORD)
    admin_page.goto("/p/digits/rulebook/edit/")
    notes = admin_page.locator("#clarification-notes")
    assert "Does a one with a base stroke count as one?" in notes.inner_text() and "reviewer2" in notes.inner_text()
    shot(admin_page, "rulebook-clarification")

    # The admin's annotators page after a re-estimation; an annotator's own page.
    off_loop(consensus_reestimate, project=project)
    admin_page.goto("/p/digits/annotators/")
    row = admin_page.locator("tr[data-annotator='annotator1']")
    assert row.locator("td.num").first.inner_text() == "3"
    assert row.locator("svg.confusion rect").count() == 100  # 10 labels × 10
    shot(admin_page, "annotators")
    row.locator("summary", has_text="Suspend").click()
    row.get_by_label("Reason").fill("testing the button")
    row.get_by_role("button", name="Suspend annotator1").click()
    admin_page.wait_for_load_state()
    assert "annotator1 suspended; 3 items decided again" in admin_page.get_by_role("status").first.inner_text()
    assert "suspended" in admin_page.locator("tr[data-annotator='annotator1']").inner_text()
    own = open_as(browser, live_server, "annotator1", DEMO_PASSWORD)
    own.goto("/p/digits/me/")
    assert own.get_by_test_id("total").inner_text() == "3"
    assert "No check items answered yet." in own.get_by_test_id("gold-accuracy").inner_text()
    assert "paused your labeling" in own.content() and "annotator2" not in own.content()
    shot(own, "my-work")
