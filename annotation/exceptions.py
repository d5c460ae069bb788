"""Domain errors. Services raise these; ``api/errors.py`` and the page views map them to HTTP."""

from __future__ import annotations

from typing import Any


class QuorumError(Exception):
    """Base of every domain error; ``message`` is meant for the person who caused it and
    ``code`` for the program that sent the request."""

    code = "error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context


class ProjectNotFound(QuorumError):
    """The project does not exist, or the user is not a member (outsiders cannot tell which)."""

    code = "not_found"


class NotFound(QuorumError):
    code = "not_found"


class RoleRequired(QuorumError):
    """A member without the role an action needs."""

    code = "forbidden"


class ValidationFailed(QuorumError):
    """Input that cannot be accepted; ``errors`` lists each problem with its field."""

    code = "invalid"

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Conflict(QuorumError):
    code = "conflict"


class NotAssigned(Conflict):
    """A vote or heartbeat for an item that is not leased to this annotator."""

    code = "not_assigned"


class LeaseExpired(Conflict):
    code = "lease_expired"


class RulebookChanged(Conflict):
    """The rulebook was republished after the item was leased: the annotator must reload."""

    code = "rulebook_changed"


class AlreadyVoted(Conflict):
    code = "already_voted"


class AnswerFinal(Conflict):
    """An undo of a gold item's vote after the annotator was shown the right answer."""

    code = "answer_final"


class NoRulebook(Conflict):
    code = "no_rulebook"


class Suspended(Conflict):
    """An annotator an admin has suspended in this project asks for work, votes or undoes."""

    code = "suspended"
