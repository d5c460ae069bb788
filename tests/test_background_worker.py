"""The embedded default's background work: a vote that asks for a project-wide re-estimation
answers without running it, and ``manage.py db_worker`` — a separate process, as ``make run``
starts it beside the server — runs it from the database.

The rest of the suite runs tasks in-process (the ``immediate_tasks`` fixture); this test puts the
database backend back. The worker is a real process on the test database, so the data is
committed (``transaction=True``) and the worker is stopped before the tables are flushed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from annotation.models import Item
from tests.conftest import api_client, publish

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parents[1]
WORKER_TIMEOUT = 60.0  # seconds for the worker to start (Django, numpy, numba) and run the task


def process_env(settings) -> dict[str, str]:
    """The environment of a process that opens this test's database (and no Redis: without
    REDIS_URL the settings choose the database task backend, as ``make run`` has it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "QUORUM_TASKS")}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["QUORUM_SQLITE_PATH"] = str(db["NAME"])
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = (
            f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
        env["QUORUM_DB_POOL"] = "0"
    env["QUORUM_MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    return env


def test_a_vote_leaves_reestimation_to_the_db_worker_process(team, settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.QUORUM_REESTIMATE_EVERY = 4
    Estimate = apps.get_model("consensus", "Estimate")
    ReestimateRequest = apps.get_model("consensus", "ReestimateRequest")
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    publish(team, "cat", "dog")
    team.project.min_votes, team.project.gold_rate = 1, 0
    team.project.save()
    for i in range(6):
        Item.objects.create(
            project=team.project, kind="text", text=f"t{i}", content_hash=f"h{i}", external_id=f"e{i}"
        )

    client = api_client(team.annotator)
    url = f"/api/projects/{team.project.slug}"
    assignment = client.post(f"{url}/next/", {}, format="json").json()["assignment"]
    for n in range(4):  # the fourth vote reaches QUORUM_REESTIMATE_EVERY
        body = {
            "item": assignment["item"]["id"],
            "client_id": f"worker-vote-{n:04d}",
            "value": "cat",
            "next": {"exclude": []},
        }
        response = client.post(f"{url}/votes/", body, format="json")
        assert response.status_code == 201, response.content
        assignment = response.json()["next"]

    # The vote answered with the next item; the re-estimation waits in the database.
    assert assignment is not None
    assert not Estimate.objects.filter(project=team.project).exists()
    (task,) = DBTaskResult.objects.all()
    assert task.task_path.endswith(".reestimate_task") and task.status == "READY"
    assert ReestimateRequest.objects.get(project=team.project).pending

    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
            cwd=BASE_DIR, env=process_env(settings), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not Estimate.objects.filter(project=team.project).exists():
            if worker.poll() is not None:
                pytest.fail(f"db_worker exited with {worker.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"db_worker ran no re-estimation within {WORKER_TIMEOUT:.0f} s:\n{log.read_text()}"
                )
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while DBTaskResult.objects.get(pk=task.pk).status != "SUCCESSFUL" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)  # as make run stops it
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
            pytest.fail(f"db_worker did not stop on SIGTERM:\n{log.read_text()}")

    assert worker.returncode == 0, log.read_text()
    estimate = Estimate.objects.get(project=team.project)
    assert estimate.votes == 4 and estimate.reliabilities.count() == 1
    assert DBTaskResult.objects.get(pk=task.pk).status == "SUCCESSFUL"
    assert not ReestimateRequest.objects.get(project=team.project).pending
    assert "reestimate_task state=SUCCESSFUL" in log.read_text()
