"""An annotator labels 20 demo items by keyboard alone: undo, skip, rulebook, decision path."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from annotation.items.models import Item
from annotation.labeling.models import Lease, Vote
from annotation.projects.models import Project
from tests.e2e.conftest import ARTIFACTS, off_loop

pytestmark = pytest.mark.django_db(transaction=True)


def current_name(page) -> str:
    return page.locator("#item-name").inner_text().removeprefix("· #")


def wait_for_new_item(page, previous: str) -> str:
    page.wait_for_function("prev => { const t = document.querySelector('#item-name').textContent; return t && t !== '· #' + prev; }", arg=previous)
    return current_name(page)


def login(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "quorum-demo")
    page.press("#id_password", "Enter")
    page.wait_for_selector("h1:text('My projects')")


def test_annotator_labels_twenty_items_by_keyboard(browser, live_server):
    off_loop(call_command, "demo", items=60)
    project = Project.objects.get(slug="digits")
    project.gold_rate = 0
    project.save()
    ARTIFACTS.mkdir(exist_ok=True)

    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, "annotator1")
    page.goto("/p/digits/label/")
    page.wait_for_selector("#item-image:not([hidden])")
    page.wait_for_function("document.querySelector('#item-name').textContent.length > 0")
    page.wait_for_function("document.querySelector('[data-progress=left]').textContent !== '–'")

    voted, undone, skipped, guided = [], None, None, None
    name = current_name(page)
    while len(voted) < 20:
        if len(voted) == 5 and undone is None:
            # Undo the last vote: that item comes back to be answered again.
            page.keyboard.press("Shift+Z")
            name = wait_for_new_item(page, name)
            undone = name
            assert name == voted[-1]
            assert "undone" in page.locator("#notice").inner_text()
            voted.pop()
        if len(voted) == 8 and skipped is None:
            skipped = name
            page.keyboard.press("Shift+S")
            name = wait_for_new_item(page, name)
            assert "Skipped" in page.locator("#notice").inner_text()
        if len(voted) == 10 and guided is None:
            page.keyboard.press("Shift+R")
            assert page.locator("#rulebook-panel").is_visible()
            assert "The digit 8: two closed loops stacked." in page.locator("#rulebook-panel").inner_text()
            page.keyboard.press("Shift+G")
            assert page.locator("#guide-question").inner_text() == "Does the digit have a closed loop?"
            page.keyboard.press("y")  # a loop
            assert page.locator("#guide-question").inner_text() == "Are there two loops, one above the other?"
            page.keyboard.press("y")  # two loops
            assert page.locator("#guide-result").inner_text().startswith("8 (eight)")
            assert page.locator(".label-button[data-key=eight]").get_attribute("aria-pressed") == "true"
            page.screenshot(path=str(ARTIFACTS / "annotator-1280x720-rulebook.png"))
            guided = name
            page.keyboard.press("Enter")
            voted.append(name)
            name = wait_for_new_item(page, name)
            page.keyboard.press("Shift+R")  # close the panel again
            continue
        page.keyboard.press(str(len(voted) % 10))
        if len(voted) == 3:
            page.screenshot(path=str(ARTIFACTS / "annotator-1280x720.png"))
        page.keyboard.press("Enter")
        voted.append(name)
        name = wait_for_new_item(page, name)

    assert page.locator("[data-progress=today]").inner_text() == "20"
    user_votes = Vote.objects.filter(project=project, voter__user__username="annotator1")
    current = user_votes.filter(kind="vote", superseded_by__isnull=True)
    assert current.count() == 20
    assert user_votes.filter(kind="retract").count() == 1
    assert {str(i) for i in Item.objects.filter(votes__in=current).values_list("pk", flat=True)} == set(voted)
    assert current.get(item_id=int(guided)).value == "eight"
    redone = user_votes.filter(item_id=int(undone)).order_by("pk")
    assert [v.kind for v in redone] == ["vote", "retract", "vote"]
    assert Lease.objects.get(annotator__username="annotator1", item_id=int(skipped)).status == "skipped"
    assert skipped not in voted
    context.close()

    # The same page at tablet width.
    tablet = browser.new_context(viewport={"width": 820, "height": 1180}, base_url=live_server.url)
    page = tablet.new_page()
    login(page, "annotator2")
    page.goto("/p/digits/label/")
    page.wait_for_selector("#item-image:not([hidden])")
    page.wait_for_function("document.querySelector('#item-name').textContent.length > 0")
    name = current_name(page)
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    wait_for_new_item(page, name)
    box = page.locator("#stage").bounding_box()
    assert box["width"] > 700 and box["height"] > 400
    submit = page.locator("#submit").bounding_box()
    assert submit["y"] + submit["height"] <= 1180  # answerable without scrolling
    page.screenshot(path=str(ARTIFACTS / "annotator-820x1180.png"))
    page.keyboard.press("Shift+R")
    panel = page.locator("#rulebook-panel").bounding_box()
    assert panel["width"] < 820 and page.locator("#stage").bounding_box()["y"] < 100  # a drawer over the page
    page.screenshot(path=str(ARTIFACTS / "annotator-820x1180-rulebook.png"))
    tablet.close()


def test_empty_queue_and_no_rulebook_are_said_plainly(browser, live_server):
    off_loop(call_command, "demo", items=2)
    project = Project.objects.get(slug="digits")
    project.gold_rate = 0
    project.save()
    Item.objects.filter(project=project).update(state="excluded")
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=live_server.url)
    page = context.new_page()
    login(page, "annotator3")
    page.goto("/p/digits/label/")
    page.wait_for_function("document.querySelector('#placeholder').textContent.includes('Nothing left')")
    assert page.locator("#submit").is_disabled()
    context.close()


def test_an_item_leased_under_a_newer_rulebook_is_not_answered_from_an_old_page(browser, live_server):
    from annotation.rulebook import services as rulebook_services
    from annotation.rulebook.models import RulebookVersion
    from tests.conftest import labels

    off_loop(call_command, "demo", items=60)
    project = Project.objects.get(slug="digits")
    project.gold_rate = 0
    project.save()
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=live_server.url)
    page = context.new_page()
    login(page, "annotator1")
    page.goto("/p/digits/label/")
    page.wait_for_function("document.querySelector('#item-name').textContent.length > 0")
    admin = project.memberships.get(role="admin").user

    def republish():
        rulebook_services.rulebook_draft_save(actor=admin, project=project, guidelines="new", unclear_instructions="", do_not_label="", labels=labels("round", "straight"))
        rulebook_services.rulebook_publish(actor=admin, project=project)

    off_loop(republish)  # no socket here (the test server is WSGI): the page is not told
    name = current_name(page)
    page.keyboard.press("Shift+S")  # skip: the prefetched item shows; the next one comes under v2
    wait_for_new_item(page, name)
    page.keyboard.press("Shift+S")
    page.wait_for_function("document.querySelector('#notice').textContent.includes('Reload')")
    assert "rulebook changed" in page.locator("#notice").inner_text().lower()
    assert page.locator("#submit").is_disabled()
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert not Vote.objects.filter(rulebook_version=RulebookVersion.objects.get(project=project, number=2)).exists()
    context.close()
