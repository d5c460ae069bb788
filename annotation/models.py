"""The app's models, defined per area (``annotation/<area>/models.py``) and gathered here for Django
and for migrations."""

from __future__ import annotations

from annotation.projects.models import (
    Role,
    ROLE_RANK,
    ItemKind,
    QuestionType,
    Project,
    Membership,
    AuditEvent,
)
from annotation.rulebook.models import RulebookStatus, RulebookVersion, ClarificationNote
from annotation.curation.models import DuplicateCluster, CurationDecision
from annotation.imports.models import ImportStatus, ImportJob
from annotation.items.models import ItemState, Item
from annotation.labeling.models import (
    LeaseStatus,
    LEASES_EXCLUDING_ITEM,
    Lease,
    Claim,
    VoteKind,
    ExternalAnnotator,
    Vote,
)

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
    "ExternalAnnotator",
    "Vote",
]
