"""Lifecycle status of a registered version, kept as the ``status`` tag on the version.

The governance service decides which transitions are allowed; this module only names the states and reads
and writes them, so every caller agrees on the tag and its values.
"""

from __future__ import annotations

from typing import Literal

from mlflow import MlflowClient

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


def get_status(client: MlflowClient, name: str, version: int | str) -> str:
    """The version's lifecycle status ('development' if never set)."""
    return client.get_model_version(name, str(version)).tags.get(STATUS_TAG, "development")


def set_status(client: MlflowClient, name: str, version: int | str, status: Status) -> None:
    """Record a lifecycle status; governance checks whether the move is allowed before calling this."""
    if status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    client.set_model_version_tag(name, str(version), STATUS_TAG, status)
