"""The app's models, defined per area (``consensus/<area>/models.py``) and gathered here for Django
and for migrations."""

from __future__ import annotations

from consensus.decisions.models import (
    Estimate,
    GroundTruth,
    GroundTruthSource,
    ReestimateRequest,
    Reliability,
)
from consensus.review.models import REVIEW_PRIORITY, ReviewCase, ReviewReason, ReviewResolution

__all__ = [
    "GroundTruthSource",
    "GroundTruth",
    "Estimate",
    "Reliability",
    "ReestimateRequest",
    "ReviewReason",
    "REVIEW_PRIORITY",
    "ReviewResolution",
    "ReviewCase",
]
