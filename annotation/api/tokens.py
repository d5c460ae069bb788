"""API tokens: issue (a throttled login), revoke, and authenticate with expiry."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import accounts
from annotation.api.authentication import ExpiringTokenAuthentication

TOKEN_OUT = inline_serializer(
    "TokenOut",
    {"token": serializers.CharField(), "expires": serializers.DateTimeField(allow_null=True)},
)


class TokenApi(APIView):
    """``POST`` logs in and hands out the user's token; ``DELETE`` revokes the caller's token."""

    parser_classes = [FormParser, MultiPartParser, JSONParser]
    throttle_classes: list[Any] = []  # failed logins are counted by django-axes (settings AXES_*)

    def _logging_in(self) -> bool:
        return getattr(self.request, "method", None) == "POST"  # no request while the schema is drawn

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self._logging_in() else [IsAuthenticated()]

    def get_authenticators(self) -> list[Any]:
        # Logging in needs no credentials (and a stale token must not stop someone getting a new one).
        if self._logging_in():
            return []
        return [ExpiringTokenAuthentication(), SessionAuthentication()]

    @extend_schema(
        request=AuthTokenSerializer,
        responses={
            200: TOKEN_OUT,
            400: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(description="Too many failed logins for this account or address: `detail` says when to try again."),
        },
        summary="Log in: your API token and when it expires",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = AuthTokenSerializer(data=request.data, context={"request": request})
        if not data.is_valid():
            if getattr(request, "axes_locked_out", False):
                credentials = {"username": request.data.get("username")}
                until = accounts.login_locked_until(request=request, credentials=credentials)
                return login_locked_response(until)
            data.is_valid(raise_exception=True)
        token = accounts.token_issue(user=data.validated_data["user"])
        return Response({"token": token.key, "expires": accounts.token_expires_at(token=token)})

    @extend_schema(
        request=None,
        responses={204: None, 401: OpenApiResponse(description="Not authenticated.")},
        summary="Revoke your API token (programs using it get 401 from now on)",
    )
    def delete(self, request: Request) -> Response:
        accounts.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def login_locked_response(until: Any) -> Response:
    response = Response(
        {"detail": accounts.login_lockout_message(until=until), "code": "login_locked",
         "retry_after": until.isoformat() if until else None},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )  # fmt: skip
    if until is not None:
        response["Retry-After"] = str(accounts.login_retry_after_seconds(until=until))
    return response
