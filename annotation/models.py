"""The app's models, defined per area (``annotation/<area>/models.py``) and gathered here for Django
and for migrations."""

from __future__ import annotations

from annotation.curation.models import CurationDecision, DuplicateCluster
from annotation.imports.models import ImportJob, ImportStatus
from annotation.items.models import Item, ItemState
from annotation.labeling.models import (
    LEASES_EXCLUDING_ITEM,
    Claim,
    Lease,
    LeaseStatus,
    Vote,
    VoteKind,
)
from annotation.projects.models import (
    ROLE_RANK,
    AuditEvent,
    ItemKind,
    Membership,
    Project,
    QuestionType,
    Role,
)
from annotation.rulebook.models import ClarificationNote, RulebookStatus, RulebookVersion
from annotation.voters.models import Voter, VoterKind

__all__ = [
    "Role",
    "ROLE_RANK",
    "ItemKind",
    "QuestionType",
    "Project",
    "Membership",
    "AuditEvent",
    "RulebookStatus",
    "RulebookVersion",
    "ClarificationNote",
    "DuplicateCluster",
    "CurationDecision",
    "ImportStatus",
    "ImportJob",
    "ItemState",
    "Item",
    "LeaseStatus",
    "LEASES_EXCLUDING_ITEM",
    "Lease",
    "Claim",
    "VoteKind",
    "VoterKind",
    "Voter",
    "Vote",
]
