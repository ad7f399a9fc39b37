"""Lifecycle status of a registered version, kept as the ``status`` tag on the version.

The governance service decides which transitions are allowed and writes them; this module only names the
states, the tag and which states may serve, so every caller (governance, serving, inventory, app) agrees on
all three. ``Status`` is a ``StrEnum``: its members equal the plain strings stored in the tags.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a registered version is in its life."""

    DEVELOPMENT = "development"
    VALIDATED = "validated"
    APPROVED = "approved"
    REJECTED = "rejected"
    PRODUCTION = "production"
    CHALLENGER = "challenger"
    UNDER_REVIEW = "under_review"
    ARCHIVED = "archived"


#: Every status, in lifecycle order (documents and the app list them in this order).
STATUSES: tuple[Status, ...] = tuple(Status)

#: Statuses of an approved version that may serve decisions: approved, deployed, or deployed and under review
#: (a deployed version under review keeps serving until someone archives or replaces it).
SERVABLE_STATUSES: frozenset[Status] = frozenset(
    {Status.APPROVED, Status.PRODUCTION, Status.CHALLENGER, Status.UNDER_REVIEW}
)

STATUS_TAG = "status"
