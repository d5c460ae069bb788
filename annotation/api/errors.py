"""One place where errors become HTTP answers: domain errors in DRF views (``exception_handler``),
and everything Django answers itself — a body over the size limit, too many fields or files, an
unknown URL, an uncaught exception — through its error views (``quorum.urls``), as JSON under
``/api/`` and as the usual pages elsewhere."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.exceptions import (
    Conflict,
    NotFound,
    ProjectNotFound,
    QuorumError,
    RoleRequired,
    ValidationFailed,
)

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
    if response is None:
        return response
    if response.status_code != 400:
        # {detail, code} like every other error: 401, 403, 404, 405, 406, 415, 429 from DRF itself
        if isinstance(response.data, dict) and set(response.data) == {"detail"}:
            response.data["code"] = getattr(exc, "default_code", "error")
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


# --- Django's error views ------------------------------------------------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def _refused_body(exception: Exception | None) -> tuple[str, str]:
    mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024**2
    if isinstance(exception, RequestDataTooBig):
        return "too_large", f"The request body is over {mb:g} MB (uploaded files aside): send data as a file."
    if isinstance(exception, TooManyFieldsSent):
        return "too_many_fields", f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields in one request."
    if isinstance(exception, TooManyFilesSent):
        return "too_many_files", f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one request."
    return "bad_request", "The request is malformed."


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json(400, *_refused_body(exception))
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json(403, "permission_denied", "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json(404, "not_found", f"No API endpoint at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json(500, "server_error", "Internal server error. It has been logged.")
    return defaults.server_error(request)
