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
    if response is not None and response.status_code == 400 and isinstance(response.data, dict):
        # Serializer errors: keep DRF's per-field dict, and add the same flat list as domain errors.
        if "detail" not in response.data:
            errors = [
                {"field": name, "message": " ".join(str(m) for m in messages)}
                if isinstance(messages, list)
                else {"field": name, "message": str(messages)}
                for name, messages in response.data.items()
            ]
            response.data = {"detail": "The request is not valid.", "errors": errors, "fields": response.data}
    return response
