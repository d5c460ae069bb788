"""Logging in: failed attempts are throttled per account and per address on the login page,
the admin and the token endpoint; passwords must pass Django's validators; API tokens expire
and can be revoked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.exceptions import ValidationFailed
from annotation.projects import services as projects_services
from annotation.projects.models import Role
from tests.factories import PASSWORD, UserFactory

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)


def form_login(username: str, password: str, address: str = "10.0.0.1", path: str = "/accounts/login/"):
    return Client(REMOTE_ADDR=address).post(path, {"username": username, "password": password})


def token_login(username: str, password: str, address: str = "10.0.0.1"):
    return Client(REMOTE_ADDR=address).post("/api/auth/token/", {"username": username, "password": password})


# --- throttling ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_login_page_pauses_an_account_after_failed_attempts_and_says_until_when():
    UserFactory(username="ada")
    for _ in range(LIMIT - 1):
        assert form_login("ada", "wrong").status_code == 200
    before = timezone.now()
    locked = form_login("ada", "wrong")
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed logins for this account or from this address" in html
    until = before + dt.timedelta(minutes=15)
    assert f"Try again after {until:%H:%M} UTC (in 15 minutes)" in html or f"Try again after {until + dt.timedelta(minutes=1):%H:%M} UTC" in html
    assert 800 <= int(locked["Retry-After"]) <= 900
    # The right password is refused too while the pause lasts, from another address as well:
    # the account is what is paused.
    assert form_login("ada", PASSWORD, address="10.0.0.2").status_code == 429
    # Another account from another address is not affected.
    UserFactory(username="bob")
    assert form_login("bob", PASSWORD, address="10.0.0.3").status_code == 302


@pytest.mark.django_db
def test_one_address_trying_many_accounts_is_paused():
    for n in range(LIMIT):
        UserFactory(username=f"victim{n}")
        form_login(f"victim{n}", "guess", address="10.9.9.9")
    UserFactory(username="carol")
    assert form_login("carol", PASSWORD, address="10.9.9.9").status_code == 429
    assert form_login("carol", PASSWORD, address="10.1.1.1").status_code == 302


@pytest.mark.django_db
def test_the_lock_lifts_after_the_cool_off():
    from axes.models import AccessAttempt

    UserFactory(username="dan")
    for _ in range(LIMIT):
        form_login("dan", "wrong")
    assert form_login("dan", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert form_login("dan", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_token_endpoint_is_throttled_with_a_json_answer():
    UserFactory(username="eve")
    for _ in range(LIMIT - 1):
        response = token_login("eve", "wrong")
        assert response.status_code == 400 and response["Content-Type"] == "application/json"
    locked = token_login("eve", "wrong")
    assert locked.status_code == 429, locked.content
    body = locked.json()
    assert body["code"] == "login_locked"
    assert "Try again after" in body["detail"] and body["retry_after"]
    assert int(locked["Retry-After"]) > 0
    again = token_login("eve", PASSWORD)
    assert again.status_code == 429 and again.json()["code"] == "login_locked"


@pytest.mark.django_db
def test_the_admin_login_is_throttled_too():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(LIMIT):
        form_login("root", "wrong", path="/admin/login/")
    response = form_login("root", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


@pytest.mark.django_db
def test_failures_on_the_form_count_for_the_token_endpoint():
    UserFactory(username="fay")
    for _ in range(LIMIT):
        form_login("fay", "wrong")
    assert token_login("fay", PASSWORD, address="10.7.7.7").status_code == 429


# --- passwords ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username,password,reason",
    [
        ("newbie", "password123", "too common"),
        ("newbie", "84736251", "entirely numeric"),
        ("annotator7x", "annotator7x", "too similar to the username"),
        ("newbie", "short", "too short"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(team, username, password, reason):
    with pytest.raises(ValidationFailed) as exc:
        projects_services.member_add(actor=team.admin, project=team.project, username=username, role=Role.ANNOTATOR, password=password)
    assert exc.value.errors[0]["field"] == "password" and reason in exc.value.errors[0]["message"]


def test_the_members_page_shows_why_a_password_is_refused(team):
    client = Client()
    client.force_login(team.admin)
    response = client.post(f"/p/{team.project.slug}/members/", {"action": "add", "username": "zed", "role": "annotator", "password": "password123"})
    assert "This password is too common." in response.content.decode()
    assert not team.project.memberships.filter(user__username="zed").exists()


# --- tokens -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_expires_with_a_json_401_that_says_so(settings):
    settings.QUORUM_TOKEN_TTL_DAYS = 30
    UserFactory(username="gus")
    body = token_login("gus", PASSWORD).json()
    assert dt.datetime.fromisoformat(body["expires"].replace("Z", "+00:00")) > timezone.now() + dt.timedelta(days=29)
    client = Client(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/projects/").status_code == 200
    Token.objects.filter(key=body["token"]).update(created=timezone.now() - dt.timedelta(days=31))
    response = client.get("/api/projects/")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "token_expired"
    assert "expired" in response.json()["detail"] and "POST /api/auth/token/" in response.json()["detail"]
    # Logging in again gives a new token; the old key stays dead.
    fresh = token_login("gus", PASSWORD).json()["token"]
    assert fresh != body["token"]
    assert Client(HTTP_AUTHORIZATION=f"Token {fresh}").get("/api/projects/").status_code == 200
    assert client.get("/api/projects/").status_code == 401


@pytest.mark.django_db
def test_delete_revokes_the_callers_token():
    UserFactory(username="hal")
    key = token_login("hal", PASSWORD).json()["token"]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.delete("/api/auth/token/").status_code == 204
    response = client.get("/api/projects/")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert not Token.objects.filter(key=key).exists()


@pytest.mark.django_db
def test_revoking_needs_credentials():
    response = Client().delete("/api/auth/token/")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_session_user_can_revoke_their_token():
    user = UserFactory(username="ivy")
    key = token_login("ivy", PASSWORD).json()["token"]
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    assert client.delete("/api/auth/token/").status_code == 204
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/projects/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_one_user_logging_in_from_five_programs_at_once_gets_one_token(live_server):
    import json
    import threading
    import urllib.request

    UserFactory(username="jay")
    keys: list = []
    barrier = threading.Barrier(5)

    def log_in() -> None:
        request = urllib.request.Request(f"{live_server.url}/api/auth/token/", method="POST",
                                         data=json.dumps({"username": "jay", "password": PASSWORD}).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        barrier.wait()
        with urllib.request.urlopen(request, timeout=60) as response:
            keys.append((response.status, json.loads(response.read())["token"]))

    threads = [threading.Thread(target=log_in) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [s for s, _ in keys] == [200] * 5 and len({k for _, k in keys}) == 1
    assert Token.objects.filter(user__username="jay").count() == 1
