"""WebSocket routes, and who may open a socket at all: only pages of this site (``SameOriginValidator``).
A path that matches no route is closed like a project the user is not in (4404), not an error."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import path, re_path

from annotation.consumers import NoRouteConsumer, ProjectConsumer

websocket_urlpatterns = [
    path("ws/projects/<slug:slug>/", ProjectConsumer.as_asgi()),
    re_path(r"", NoRouteConsumer.as_asgi()),
]

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port filled in; None when it is not one."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


class SameOriginValidator:
    """Lets a socket through only when its ``Origin`` is this site's own: the same scheme, host
    and port as the ``Host`` it was opened on (https when the socket is ``wss`` or the proxy's
    ``SECURE_PROXY_SSL_HEADER`` says so), or exactly one of ``CSRF_TRUSTED_ORIGINS`` — the rule Django's
    CSRF check applies to forms. The host must also be in ``ALLOWED_HOSTS``. Everything else, a
    missing Origin included, is refused before the handshake completes (HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if self._allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)

    @staticmethod
    def _allowed(scope: dict[str, Any]) -> bool:
        headers = {name.lower(): value.decode("latin1") for name, value in scope.get("headers", [])}
        origin = _origin(headers.get(b"origin", ""))
        host = headers.get(b"host", "")
        domain, _port = split_domain_port(host)
        if origin is None or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return False
        secure = scope.get("scheme") == "wss"
        if proxy := getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
            header, value = proxy
            secure = secure or headers.get(header.lower().removeprefix("http_").replace("_", "-").encode()) == value
        own = _origin(f"{'https' if secure else 'http'}://{host}")
        trusted = {_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS}
        return origin == own or origin in trusted
