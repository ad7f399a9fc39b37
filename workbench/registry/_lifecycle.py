"""Lifecycle status of a registered version, kept as the ``status`` tag on the version.

The governance service decides which transitions are allowed and writes them; this module only names the
states and the tag, so every caller agrees on both.
"""

from __future__ import annotations

from typing import Literal

Status = Literal[
    "development", "validated", "approved", "rejected", "production", "challenger", "under_review", "archived"
]
STATUSES: tuple[str, ...] = (
    "development",
    "validated",
    "approved",
    "rejected",
    "production",
    "challenger",
    "under_review",
    "archived",
)
STATUS_TAG = "status"
