"""Live updates across browsers: an annotator votes in one browser context, and in another the
admin's dashboard counts and review queue change within a second, without a reload. Served by
daphne (ASGI), so the pages' WebSockets are real."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from annotation.items.models import Item, ItemState
from annotation.labeling import services as labeling
from annotation.labeling.models import Vote
from annotation.projects.models import Project
from tests.e2e.conftest import ARTIFACTS, log_in, off_loop

pytestmark = pytest.mark.django_db(transaction=True)


def count(page, testid: str) -> int:
    return int(page.locator(f"[data-testid={testid}]").inner_text().replace(",", ""))


def test_a_vote_in_one_browser_updates_the_dashboard_and_review_queue_in_another(browser, asgi_server):
    off_loop(call_command, "demo", items=30)
    project = Project.objects.get(slug="digits")
    project.min_votes, project.max_votes, project.gold_rate = 2, 2, 0
    project.save()
    annotator2 = project.memberships.get(user__username="annotator2").user

    def first_vote():  # annotator2 has answered "one" on the item the queue hands out next
        lease = labeling.item_lease_next(project=project, annotator=annotator2)
        labeling.vote_cast(project=project, annotator=annotator2, item_id=lease.item_id, client_id="e2e-a2", value="one")
        return lease.item_id

    split = off_loop(first_vote)

    admin = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=asgi_server)
    dashboard = admin.new_page()
    dashboard.set_default_timeout(15_000)
    log_in(dashboard, "admin", "quorum-demo")
    dashboard.goto("/p/digits/dashboard/")
    queue = admin.new_page()
    queue.set_default_timeout(15_000)
    queue.goto("/p/digits/review/")
    for page in (dashboard, queue):
        page.wait_for_function("document.documentElement.dataset.live === 'connected'")
        page.evaluate("window.notReloaded = true")
    assert dashboard.locator("#dash-live").inner_text() == "live"
    votes, in_review = count(dashboard, "votes-total"), count(dashboard, "state-review")
    assert (votes, in_review) == (1, 0) and queue.locator(f"tr[data-item='{split}']").count() == 0

    labeler = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=asgi_server).new_page()
    labeler.set_default_timeout(15_000)
    log_in(labeler, "annotator1", "quorum-demo")
    labeler.goto("/p/digits/label/")
    labeler.wait_for_function(f"document.querySelector('#item-name').textContent === '· #{split}'")
    labeler.keyboard.press("7")
    with labeler.expect_response(lambda r: r.url.endswith("/votes/") and r.request.method == "POST") as response:
        labeler.keyboard.press("Enter")
    assert response.value.ok
    voted = time.monotonic()

    def within_a_second_of_the_vote(page, condition: str) -> float:
        page.wait_for_function(condition, timeout=max(1, 1000 - 1000 * (time.monotonic() - voted)))
        return time.monotonic() - voted

    seen_votes = within_a_second_of_the_vote(dashboard, "document.querySelector('[data-testid=votes-total]').textContent === '2'")
    seen_state = within_a_second_of_the_vote(dashboard, "document.querySelector('[data-testid=state-review]').textContent === '1'")
    seen_queue = within_a_second_of_the_vote(queue, f"document.querySelector(\"tr[data-item='{split}']\") !== null")
    assert max(seen_votes, seen_state, seen_queue) < 1.0
    for page in (dashboard, queue):
        assert page.evaluate("window.notReloaded") is True  # updated in place
    assert Item.objects.get(pk=split).state == ItemState.REVIEW
    assert Vote.objects.filter(item_id=split, kind="vote").count() == 2
    assert "Votes split at the maximum" in queue.locator(f"tr[data-item='{split}']").inner_text()

    # The dashboard fetches a full snapshot soon after: the active annotator and the label bars.
    dashboard.wait_for_selector("tr[data-annotator='annotator1']")
    ARTIFACTS.mkdir(exist_ok=True)
    dashboard.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    print(f"dashboard votes {seen_votes:.3f} s, state {seen_state:.3f} s, review queue {seen_queue:.3f} s after the vote")
    admin.close()
    labeler.context.close()
