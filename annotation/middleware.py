"""HTTP middleware: what every streamed response must guarantee, whatever server runs it.

A streamed response (the ground-truth export) runs its queries while it is being sent, after
the view returned. If it fails then, Django's ASGI handler skips ``response.close()`` — so the
request's database connection is never given back to the pool — and daphne, seeing an application
raise after its response started, neither answers nor closes the connection and stops reaping
failed applications altogether. ``StreamGuardMiddleware`` makes that impossible:

* the first chunk is produced here, before the response starts: whatever fails before the first
  byte — a query, the aggregation an export starts with — is an ordinary exception of the view,
  answered with a status (JSON under ``/api/``);
* a failure after that closes the request's database connections on the spot (returned to the
  pool), and the response sends ``stream_error_chunk`` if the view set one (the export's last line
  then says it stopped early). Under WSGI the exception goes on to the server, which drops the
  connection, so the client sees a truncated transfer. Under ASGI the failure is logged and reported
  like any other and the response ends: a client never waits on a response that cannot finish;
* under ASGI the rest is pulled in batches of about ``BATCH_BYTES`` on the request's own thread
  (where its connection lives), instead of Django reading the whole stream into memory first.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import chain

from asgiref.sync import sync_to_async
from django.core import signals
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import FileResponse, HttpRequest, HttpResponseBase, StreamingHttpResponse

logger = logging.getLogger("django.request")

BATCH_BYTES = 64 * 1024


class StreamGuardMiddleware:
    """Last in ``MIDDLEWARE``: its errors then pass through the others like a view's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        asgi = isinstance(request, ASGIRequest)
        if not isinstance(response, StreamingHttpResponse) or response.is_async:
            return response
        if isinstance(response, FileResponse) and not asgi:
            return response  # a WSGI server sends the file itself (sendfile); reading it here would stop that
        chunks = iter(response.streaming_content)
        first = next(chunks, None)  # an exception here is the view's: answered with a status
        if first is None:
            return response
        rest = chain((first,), chunks)
        error_chunk = getattr(response, "stream_error_chunk", b"")
        if asgi:
            response.streaming_content = _batches(rest, request, error_chunk)
        else:
            response.streaming_content = _released_on_error(rest, error_chunk)
        return response


def _released_on_error(chunks: Iterator[bytes], error_chunk: bytes) -> Iterator[bytes]:
    try:
        yield from chunks
    except Exception:
        connections.close_all()
        if error_chunk:
            yield error_chunk
        raise


async def _batches(chunks: Iterator[bytes], request: HttpRequest, error_chunk: bytes) -> AsyncIterator[bytes]:
    # thread_sensitive: the request's thread, whose database connection the iterator uses.
    take = sync_to_async(_take_batch, thread_sensitive=True)
    while True:
        batch, finished = await take(chunks, request, error_chunk)
        for chunk in batch:
            yield chunk
        if finished:
            return


def _take_batch(chunks: Iterator[bytes], request: HttpRequest, error_chunk: bytes) -> tuple[list[bytes], bool]:
    batch: list[bytes] = []
    size = 0
    try:
        while size < BATCH_BYTES:
            chunk = next(chunks, None)
            if chunk is None:
                return batch, True
            batch.append(chunk)
            size += len(chunk)
    except Exception:
        connections.close_all()
        logger.exception("Streamed response failed after it started: %s", request.path)
        signals.got_request_exception.send(sender=StreamGuardMiddleware, request=request)
        return [*batch, error_chunk] if error_chunk else batch, True
    return batch, False
