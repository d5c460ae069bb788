"""The scale-out parts are real: PostgreSQL, Redis channel layer, RQ workers.

These run in .ci/run's second pass with DATABASE_URL and REDIS_URL set; there, a missing
server fails the run instead of skipping.
"""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.db import connection

from annotation.imports import services as imports
from annotation.imports.models import ImportJob
from annotation.items.models import Item


@pytest.mark.postgres
def test_the_suite_runs_on_postgresql_with_a_connection_pool(db):
    assert settings.DATABASE_URL.startswith("postgres"), "set DATABASE_URL for this pass"
    assert connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("select current_setting('server_version_num')::int")
        assert cur.fetchone()[0] >= 150000


@pytest.mark.redis
async def test_channel_layer_is_redis():
    from channels.layers import get_channel_layer

    assert settings.REDIS_URL, "set REDIS_URL for this pass"
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    channel = await layer.new_channel()
    await layer.group_add("project.test", channel)
    await layer.group_send("project.test", {"type": "project.event", "payload": {"x": 1}})
    assert await layer.receive(channel) == {"type": "project.event", "payload": {"x": 1}}
    await layer.flush()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_background_import_runs_on_an_rq_worker(team, settings):
    """A large import is enqueued to Redis and an RQ worker (burst mode, this process) runs it."""
    import django_rq
    from django_tasks_rq import Job

    assert settings.TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend"
    queue = django_rq.get_queue("default", job_class=Job)
    queue.empty()
    settings.QUORUM_IMPORT_INLINE_BYTES = 0
    job = imports.import_create(actor=team.admin, project=team.project, name="lines.txt", upload=io.BytesIO(b"a\nb\nc\n"))
    assert imports.import_start(job=job).status == "pending"
    assert queue.count == 1
    worker = django_rq.get_worker("default", job_class=Job)
    assert worker.work(burst=True)
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.status, job.created) == ("done", 3)
    assert sorted(Item.objects.filter(project=team.project).values_list("text", flat=True)) == ["a", "b", "c"]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_events_from_sync_code_reach_redis_in_the_order_they_were_published():
    """Services publish from plain threads; one sender loop hands the events to Redis in order."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from annotation import events

    assert settings.REDIS_URL, "set REDIS_URL for this pass"
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.staff_group(987654), channel)

    @sync_to_async(thread_sensitive=False)
    def publish_many():
        for n in range(50):
            events.vote_cast(987654, item=n, annotator="a")
        assert events.flush(5.0)

    await publish_many()
    received = [(await layer.receive(channel))["payload"]["item"] for _ in range(50)]
    assert received == list(range(50))
    await layer.group_discard(events.staff_group(987654), channel)


@pytest.mark.redis
async def test_a_quiet_channel_outlasts_redis_client_timeouts():
    """A dashboard socket may hear nothing for minutes; waiting on Redis must not time out."""
    import asyncio

    from channels.layers import get_channel_layer

    assert settings.REDIS_URL, "set REDIS_URL for this pass"
    layer = get_channel_layer()
    channel = await layer.new_channel()
    with pytest.raises(asyncio.TimeoutError):  # still waiting after 6.5 s, not failed at 5 s
        await asyncio.wait_for(layer.receive(channel), 6.5)
    await layer.flush()
