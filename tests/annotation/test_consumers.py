"""The project WebSocket: members only, and events only after commit."""

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from annotation.projects import services as projects_services
from annotation.routing import websocket_urlpatterns
from annotation.rulebook import services as rulebook_services
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
        rulebook_services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("a", "b"))
        rulebook_services.rulebook_publish(actor=team.admin, project=team.project)

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
        rulebook_services.rulebook_draft_save(actor=team.admin, project=team.project, guidelines="", unclear_instructions="", do_not_label="", labels=labels("a", "b"))
        try:
            with transaction.atomic():
                rulebook_services.rulebook_publish(actor=team.admin, project=team.project)
                raise RuntimeError("boom")
        except RuntimeError:
            pass

    await publish_then_fail()
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


# --- who hears what -----------------------------------------------------------------------------


async def connected(user, slug):
    comm = communicator(user, slug)
    ok, code = await comm.connect()
    assert ok, code
    return comm


async def drain(comm, timeout=0.3):
    """Every message the socket has (waiting ``timeout`` for the last)."""
    out = []
    while not await comm.receive_nothing(timeout=timeout):
        out.append(await comm.receive_json_from())
    return out


async def test_an_annotator_never_hears_another_annotators_vote_and_staff_hear_no_answers(team):
    from asgiref.sync import sync_to_async

    from tests.annotation.labeling.test_services import add_items, annotators, vote
    from tests.conftest import publish

    @sync_to_async
    def setup():
        publish(team, "cat", "dog")
        add_items(team.project, 2)
        return annotators(team, 1)[0]

    other = await setup()
    mine, staff = await connected(team.annotator, team.project.slug), await connected(team.reviewer, team.project.slug)
    admin = await connected(team.admin, team.project.slug)

    @sync_to_async
    def other_votes():
        from annotation.labeling import services as labeling

        vote(team, other, labeling.item_lease_next(project=team.project, annotator=other), value="dog")

    await other_votes()
    heard_by_staff = await drain(staff)
    assert [m["type"] for m in heard_by_staff] == ["vote.cast"]
    assert heard_by_staff[0]["annotator"] == other.username and "dog" not in json_dump(heard_by_staff)
    assert await drain(admin) == heard_by_staff
    assert await drain(mine) == []  # nothing at all: not that a vote happened, nor its answer
    for comm in (mine, staff, admin):
        await comm.disconnect()


def json_dump(messages):
    import json

    return json.dumps(messages)


async def test_bad_messages_get_an_error_on_that_socket_alone_and_everyone_stays_connected(team):
    from asgiref.sync import sync_to_async

    from annotation.consumers import MAX_MESSAGE

    bad, good = await connected(team.annotator, team.project.slug), await connected(team.admin, team.project.slug)
    cases = [
        ("x" * (MAX_MESSAGE + 1), "too long"),
        ('{"type": "ping", "pad": "' + "y" * 5000 + '"}', "too long"),
        ("[1, 2", "JSON objects"),
        ("[1, 2]", "unknown message"),
        ('{"type": "vote", "value": "cat"}', "unknown message"),
    ]
    for text, reason in cases:
        await bad.send_to(text_data=text)
        reply = await bad.receive_json_from()
        assert reply["type"] == "error" and reason in reply["reason"], (text[:30], reply)
    await bad.send_to(bytes_data=b"\x00\x01")
    assert "binary" in (await bad.receive_json_from())["reason"]
    assert await good.receive_nothing(timeout=0.2)  # the other user heard nothing of it
    await bad.send_json_to({"type": "ping"})
    assert await bad.receive_json_from() == {"type": "pong"}  # still open

    @sync_to_async
    def publish_rulebook():
        from tests.conftest import publish

        publish(team, "a", "b")

    await publish_rulebook()
    for comm in (bad, good):
        assert (await comm.receive_json_from(timeout=2))["type"] == "rulebook.published"
        await comm.disconnect()


async def test_a_demoted_reviewer_leaves_the_staff_group_and_a_removed_member_is_closed(team):
    from asgiref.sync import sync_to_async

    reviewer, annotator = await connected(team.reviewer, team.project.slug), await connected(team.annotator, team.project.slug)

    @sync_to_async
    def demote_and_remove():
        projects_services.member_set_role(actor=team.admin, project=team.project, user_id=team.reviewer.pk, role="annotator")
        projects_services.member_remove(actor=team.admin, project=team.project, user_id=team.annotator.pk)

    await demote_and_remove()
    assert (await reviewer.receive_json_from(timeout=2))["type"] == "membership.changed"
    assert (await annotator.receive_output(timeout=2))["type"] == "websocket.close"

    @sync_to_async
    def staff_event():
        from annotation import events

        events.review_opened(team.project.pk, opened=1)
        events.rulebook_published(team.project.pk, version=9, labels=2)

    await staff_event()
    heard = await drain(reviewer)
    assert [m["type"] for m in heard] == ["rulebook.published"]  # a member still, staff no more
    await reviewer.disconnect()


def _through_the_stack(path: str, origin: bytes | None, host: bytes = b"localhost:8000", **scope):
    from quorum.asgi import application

    headers = [(b"host", host)] + ([(b"origin", origin)] if origin is not None else [])
    comm = WebsocketCommunicator(application, path, headers=headers)
    comm.scope.update(scope)
    return comm


@pytest.mark.parametrize(
    "origin",
    [b"http://evil.example", b"http://localhost:9999", b"http://localhost", b"https://localhost:8000",
     b"http://localhost:8000.evil.example", b"null", b"", None],
)  # fmt: skip
async def test_a_socket_from_another_origin_is_refused(team, origin):
    """Scheme, host and port all count: a page on another port of the same host is another site."""
    comm = _through_the_stack(f"/ws/projects/{team.project.slug}/", origin)
    connected_, code = await comm.connect()
    assert (connected_, code) == (False, 1000)  # refused before any consumer runs (HTTP 403 on the wire)


@pytest.mark.parametrize(
    ("origin", "host", "scope"),
    [(b"http://localhost:8000", b"localhost:8000", {}), (b"http://LOCALHOST:8000", b"localhost:8000", {}),
     (b"http://127.0.0.1", b"127.0.0.1:80", {}), (b"https://localhost", b"localhost", {"scheme": "wss"})],
)  # fmt: skip
async def test_a_socket_from_the_page_s_own_origin_reaches_the_consumer(team, origin, host, scope):
    comm = _through_the_stack(f"/ws/projects/{team.project.slug}/", origin, host, **scope)
    connected_, code = await comm.connect()  # the site's own origin, but no session: not a member
    assert (connected_, code) == (False, 4404)


async def test_behind_a_tls_proxy_the_origin_is_https(team, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    path = f"/ws/projects/{team.project.slug}/"
    behind_proxy = [(b"x-forwarded-proto", b"https")]
    comm = _through_the_stack(path, b"https://localhost", b"localhost")
    comm.scope["headers"] += behind_proxy
    assert await comm.connect() == (False, 4404)
    comm = _through_the_stack(path, b"http://localhost", b"localhost")
    comm.scope["headers"] += behind_proxy
    assert await comm.connect() == (False, 1000)


async def test_a_trusted_origin_is_let_through(team, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org"]
    comm = _through_the_stack(f"/ws/projects/{team.project.slug}/", b"https://app.example.org", b"localhost:8000")
    assert await comm.connect() == (False, 4404)


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/", "/ws/projects/", "/ws/projects/a/b/", "/api/projects/"])
async def test_a_socket_on_no_route_is_closed_like_a_missing_project(team, path):
    """It used to raise ValueError inside the application (a 500 on the handshake)."""
    comm = _through_the_stack(path, b"http://localhost:8000")
    assert await comm.connect() == (False, 4404)


def test_the_pages_follow_the_event_catalogue():
    """Every event type the JavaScript handles is one events.py sends, and every one sent is named
    in the catalogue (a renamed event would otherwise silently stop updating a page)."""
    import re
    from pathlib import Path

    from annotation import events

    js = "".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "static" / "quorum").glob("*.js"))
    handled = set(re.findall(r"\"([a-z]+\.[a-z_]+)\"", js)) & {t for t in re.findall(r"[a-z]+\.[a-z_]+", js) if "." in t}
    handled = {t for t in handled if t.split(".")[0] in {e.split(".")[0] for e in events.EVENT_TYPES}}
    assert handled <= set(events.EVENT_TYPES), handled - set(events.EVENT_TYPES)
    source = Path(events.__file__).read_text()
    sent = set(re.findall(r'"type": "([a-z]+\.[a-z_]+)"', source))
    assert sent == set(events.EVENT_TYPES)
