"""The demo project that `make run` loads: its curation fits its 8×8-pixel scans."""

import io

import pytest
from django.core.management import call_command

from annotation.items.models import Item
from annotation.projects.models import Project


@pytest.mark.django_db
def test_the_demo_flags_no_scan_blurry_and_clusters_only_close_copies():
    call_command("demo", items=120, stdout=io.StringIO())
    project = Project.objects.get(slug="digits")
    assert (project.blur_threshold, project.near_duplicate_distance) == (0.0, 4)
    items = Item.objects.filter(project=project)
    assert items.count() == 120
    assert not items.filter(flags__has_key="blurry").exists()  # at the default, all 120 would be
    assert max(items.exclude(cluster=None).values_list("cluster_distance", flat=True), default=0) <= 4


@pytest.mark.django_db
def test_the_demo_logins_pass_the_password_rules_and_log_in():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.test import Client

    from annotation.management.commands.demo import PASSWORD, USERS

    call_command("demo", items=20, stdout=io.StringIO())
    for username, _role in USERS:
        validate_password(PASSWORD, user=get_user_model().objects.get(username=username))  # raises if weak
        response = Client().post("/accounts/login/", {"username": username, "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/", username
        token = Client().post("/api/auth/token/", {"username": username, "password": PASSWORD})
        assert token.status_code == 200 and token.json()["token"]
