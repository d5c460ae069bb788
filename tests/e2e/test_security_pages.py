"""Every page under the Content-Security-Policy in Chromium, without a violation; the login
page when failed logins have paused an account."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from annotation.items.models import Item
from annotation.projects.models import Project
from tests.e2e.conftest import log_in, off_loop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_csp]

PAGES = [
    "/", "/projects/new/", "/p/digits/", "/p/digits/label/", "/p/digits/rulebook/", "/p/digits/rulebook/v1/",
    "/p/digits/rulebook/history/", "/p/digits/items/", "/p/digits/items/{item}/", "/p/digits/agreement/",
    "/p/digits/dashboard/", "/p/digits/review/", "/p/digits/review/{item}/", "/p/digits/annotators/", "/p/digits/me/",
    "/p/digits/settings/", "/p/digits/members/", "/p/digits/rulebook/edit/", "/p/digits/import/",
    "/p/digits/import/votes/", "/p/digits/imports/{job}/", "/p/digits/audit/", "/p/digits/curation/",
    "/p/digits/curation/?show=tiny", "/api/docs/", "/admin/", "/admin/auth/user/", "/admin/auth/user/{user}/change/",
]  # fmt: skip


def test_every_page_passes_the_content_security_policy(browser, live_server, shot):
    from django.contrib.auth import get_user_model

    off_loop(call_command, "demo", items=30)
    get_user_model().objects.filter(username="admin").update(is_staff=True, is_superuser=True)
    project = Project.objects.get(slug="digits")
    item = Item.objects.filter(project=project).first()
    job = project.imports.first()
    admin = get_user_model().objects.get(username="admin")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    page = context.new_page()
    response = page.goto("/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe" not in response.headers["content-security-policy"]
    log_in(page, "admin", "quorum-demo")
    for path in PAGES:
        url = path.format(item=item.pk, job=job.pk if job else 0, user=admin.pk)
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        assert "default-src 'self'" in response.headers["content-security-policy"], url
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)  # let the page's modules run (charts, the label page's fetches)
    # The pages that draw label colours drew them (from the nonce-carrying <style>), not grey.
    page.goto("/p/digits/rulebook/")
    swatch = page.locator(".label-card .swatch").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert swatch != "rgb(154, 165, 177)", swatch
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info")  # the API docs start without an inline script
    shot(page, "csp-api-docs")
    context.close()
    assert browser.violations == [], browser.violations


def test_the_login_page_says_when_to_try_again(browser, live_server, shot, settings):
    from django.contrib.auth import get_user_model

    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_user("annie", password="a-good-long-password")
    context = browser.new_context(viewport={"width": 1000, "height": 640}, base_url=live_server.url)
    page = context.new_page()
    for _ in range(3):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("annie")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")
    alert = page.get_by_role("alert")
    assert "Too many failed logins for this account or from this address" in alert.inner_text()
    assert "Try again after" in alert.inner_text() and "(in 15 minutes)" in alert.inner_text()
    # The right password now is refused too, with the same message.
    page.get_by_label("Username").fill("annie")
    page.get_by_label("Password").fill("a-good-long-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    assert "Try again after" in page.get_by_role("alert").inner_text()
    assert page.url.endswith("/accounts/login/")
    shot(page, "login-locked-out")
    context.close()
