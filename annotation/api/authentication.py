"""Token authentication with expiry (kept apart from the views: DRF imports this from settings)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from annotation import accounts


class TokenExpired(exceptions.AuthenticationFailed):
    default_code = "token_expired"


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing tokens older than ``QUORUM_TOKEN_TTL_DAYS`` with a
    401 that says the token expired (and how to get a new one)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if accounts.token_is_expired(token=token):
            expired = timezone.localtime(accounts.token_expires_at(token=token))  # type: ignore[arg-type]
            message = (
                f"This token expired on {expired:%Y-%m-%d %H:%M} {timezone.get_current_timezone_name()}; "
                "get a new one from POST /api/auth/token/ with your username and password."
            )
            # A dict detail is the body as it stands: the code says why, for programs.
            raise TokenExpired({"detail": message, "code": TokenExpired.default_code})
        return user, token
