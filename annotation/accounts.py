"""Logins and API tokens: how long a token lives, revoking it, and when a throttled login may
try again.

Failed logins are counted by django-axes (settings ``AXES_*``) on the login page, ``/admin/``
and ``POST /api/auth/token/`` alike, per account and per address; this module only reads its
records to tell a locked-out person when to come back.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

# --- tokens ---------------------------------------------------------------------------------------


def token_expires_at(*, token: Token) -> dt.datetime | None:
    """When the token stops working (``QUORUM_TOKEN_TTL_DAYS`` after it was issued; 0 keeps
    tokens for ever)."""
    days = settings.QUORUM_TOKEN_TTL_DAYS
    return token.created + dt.timedelta(days=days) if days else None


def token_is_expired(*, token: Token, now: dt.datetime | None = None) -> bool:
    expires = token_expires_at(token=token)
    return expires is not None and expires <= (now or timezone.now())


@transaction.atomic
def token_issue(*, user: AbstractBaseUser) -> Token:
    """The user's token: the one they have while it is valid, else a new one (an expired token
    is replaced, never brought back to life)."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not token_is_expired(token=token):
        return token
    if token is not None:
        token.delete()
    try:
        with transaction.atomic():
            return Token.objects.create(user=user)
    except IntegrityError:  # the same user logging in twice at once: both get the one token
        return Token.objects.get(user=user)


def token_revoke(*, user: AbstractBaseUser) -> bool:
    """Delete the user's token; every program using it gets 401 from now on. True if there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


# --- login throttling -----------------------------------------------------------------------------


def login_locked_until(*, request: Any, credentials: dict[str, Any] | None) -> dt.datetime | None:
    """When the account or address this login attempt comes from may try again, or None if
    it is not locked out. Reads django-axes' records: the lock lifts a cool-off after the last
    counted failure of whichever of them (account, address) reached the limit."""
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    limit = get_failure_limit(request, credentials)
    handler = AxesProxyHandler.get_implementation()
    AxesProxyHandler.update_request(request)
    until = None
    for attempts in handler.get_user_attempts(request, credentials):
        row = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        if (row["failures"] or 0) >= limit and row["last"] is not None:
            candidate = row["last"] + cool_off
            until = candidate if until is None else max(until, candidate)
    return until


def login_lockout_message(*, until: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """What a locked-out person is told: what happened and when to try again."""
    if until is None:
        return "Too many failed logins for this account or from this address. Ask an admin to unlock it."
    minutes = max(1, math.ceil((until - (now or timezone.now())).total_seconds() / 60))
    return (
        f"Too many failed logins for this account or from this address, so logging in is paused. "
        f"Try again after {timezone.localtime(until):%H:%M} {timezone.get_current_timezone_name()} "
        f"(in {minutes} minute{'s' if minutes != 1 else ''})."
    )


def login_retry_after_seconds(*, until: dt.datetime) -> int:
    """The ``Retry-After`` header's value for a lock that lifts at ``until``."""
    return max(1, math.ceil((until - timezone.now()).total_seconds()))
