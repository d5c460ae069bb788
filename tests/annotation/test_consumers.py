"""The project WebSocket: members only, and events only after commit."""

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from annotation import services
from annotation.routing import websocket_urlpatterns
from tests.conftest import labels

pytestmark = pytest.mark.django_db(transaction=True)


def communicator(user, slug):
    app = URLRouter(websocket_urlpatterns)
    comm = WebsocketCommunicator(app, f"/ws/projects/{slug}/")
    comm.scope["user"] = user
    return comm


async def test_outsider_and_anonymous_are_closed_with_4404(team):
    from django.contrib.auth.models import AnonymousUser

    for user in (team.outsider, AnonymousUser()):
        comm = communicator(user, team.project.slug)
        connected, code = await comm.connect()
        assert (connected, code) == (False, 4404)


async def test_member_hears_rulebook_publication_and_ping(team):
    from asgiref.sync import sync_to_async

    comm = communicator(team.annotator, team.project.slug)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.send_to(text_data="garbage")
    assert (await comm.receive_json_from())["reason"] == "messages are JSON objects"

    @sync_to_async
    def publish():
        services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("a", "b"))
        services.rulebook_publish(actor=team.admin, project=team.project)

    await publish()
    event = await comm.receive_json_from(timeout=2)
    assert event.pop("at") > 0 and event == {"type": "rulebook.published", "version": 1, "labels": 2}
    await comm.disconnect()


async def test_nothing_is_sent_when_the_publish_rolls_back(team):
    from asgiref.sync import sync_to_async
    from django.db import transaction

    comm = communicator(team.annotator, team.project.slug)
    await comm.connect()

    @sync_to_async
    def publish_then_fail():
        services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("a", "b"))
        try:
            with transaction.atomic():
                services.rulebook_publish(actor=team.admin, project=team.project)
                raise RuntimeError("boom")
        except RuntimeError:
            pass

    await publish_then_fail()
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()
