"""Batch and decision ids: a batch decision's id names its batch, so replay can find the batch's record.

A batch id is ``batch-`` followed by a scoring-server-style id (time-ordered nanoseconds, then random bits).
A decision in it is ``<batch id>.<part>.<row>``: the part (the Spark partition, 0 for the pandas engine) and
the row's position within that part. The id is unique without coordination between executors, and it
leads replay to the one audit record of its batch, which holds where the decisions were written.
"""

from __future__ import annotations

import re

from workbench.serving import new_decision_id

PREFIX = "batch-"
_BATCH_DECISION = re.compile(r"^(batch-[0-9a-f]+-[0-9a-f]{16})\.(\d+)\.(\d+)$")


def new_batch_id() -> str:
    """A new, time-ordered batch id."""
    return PREFIX + new_decision_id()


def batch_decision_id(batch_id: str, part: int, row: int) -> str:
    """The id of row ``row`` of part ``part`` of a batch."""
    return f"{batch_id}.{part}.{row}"


def batch_of(decision_id: str) -> str | None:
    """The batch id a batch decision id carries, or None for any other id (a live decision's)."""
    found = _BATCH_DECISION.match(decision_id.strip())
    return found.group(1) if found else None
