"""One place where domain errors become HTTP answers."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import Conflict, NotFound, ProjectNotFound, QuorumError, RoleRequired, ValidationFailed

STATUS = {
    ProjectNotFound: status.HTTP_404_NOT_FOUND,
    NotFound: status.HTTP_404_NOT_FOUND,
    RoleRequired: status.HTTP_403_FORBIDDEN,
    ValidationFailed: status.HTTP_400_BAD_REQUEST,
    Conflict: status.HTTP_409_CONFLICT,
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, QuorumError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if isinstance(exc, ValidationFailed):
            body["errors"] = exc.errors
        code = next((c for cls, c in STATUS.items() if isinstance(exc, cls)), 400)
        return Response(body, status=code)
    response = drf_exception_handler(exc, context)
    if response is None or response.status_code != 400:
        return response
    if isinstance(response.data, dict) and set(response.data) == {"detail"}:
        # e.g. a body that is not JSON
        message = str(response.data["detail"])
        response.data = {"detail": message, "code": "invalid", "errors": [{"field": "body", "message": message}]}
        return response
    # Serializer errors, nested or not, as one flat list: {"field": "labels.1.hotkey", "message": …}.
    response.data = {"detail": "The request is not valid.", "code": "invalid", "errors": list(_flatten(response.data, ""))}
    return response


def _flatten(data: Any, path: str):  # type: ignore[no-untyped-def]
    if isinstance(data, dict):
        for key, value in data.items():
            name = "body" if key == "non_field_errors" and not path else str(key)
            yield from _flatten(value, f"{path}.{name}" if path else name)
    elif isinstance(data, list) and data and all(isinstance(m, str) for m in data):
        yield {"field": path or "body", "message": " ".join(str(m) for m in data)}
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value:
                yield from _flatten(value, f"{path}.{index}" if path else str(index))
    else:
        yield {"field": path or "body", "message": str(data)}
