"""The rollout setting of a model's challenger: a governed state that every scoring process follows.

The setting (``off``, ``shadow`` or ``canary`` with a share) lives in one small JSON file per model beside the
registry, so every worker process and every restart follows the same one; changes are written atomically
under a lock and recorded in the audit trail by the governance service. It lives in governance, not serving,
because changing it is a governed action; the scoring server only reads it (and writes ``off`` on rollback).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from workbench.paths import registry_store

MODES = ("off", "shadow", "canary")


class RolloutError(ValueError):
    """A rollout setting that cannot be applied."""


@dataclass(frozen=True)
class RolloutSetting:
    """How the challenger takes part: not at all, in shadow, or answering a share of traffic."""

    mode: str = "off"
    share: float = 0.0
    challenger_version: int | None = None
    changed: str = ""
    changed_by: str = ""
    reason: str = ""
    generation: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RolloutError(f"mode: {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "canary" and not 0.0 < self.share < 1.0:
            raise RolloutError(f"share: a canary needs a share between 0 and 1 (exclusive), got {self.share}")


def rollout_path(model: str) -> Path:
    """The rollout setting's file for one model."""
    return registry_store() / "serving" / f"{model}.rollout.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_setting(model: str) -> RolloutSetting:
    """The current setting (``off`` when none was ever written)."""
    path = rollout_path(model)
    if not path.is_file():
        return RolloutSetting()
    return RolloutSetting(**json.loads(path.read_text("utf-8")))


def write_setting(
    model: str,
    mode: str,
    *,
    share: float = 0.0,
    challenger_version: int | None,
    actor: str,
    reason: str,
    expected_generation: int | None = None,
) -> RolloutSetting | None:
    """Replace the setting atomically; with ``expected_generation``, only if nobody changed it meanwhile."""
    path = rollout_path(model)
    with _locked(path):
        current = read_setting(model)
        if expected_generation is not None and current.generation != expected_generation:
            return None
        setting = RolloutSetting(
            mode=mode,
            share=share if mode == "canary" else 0.0,
            challenger_version=challenger_version,
            changed=datetime.now(UTC).isoformat(timespec="seconds"),
            changed_by=actor,
            reason=reason,
            generation=current.generation + 1,
        )
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(setting), indent=2), "utf-8")
        temporary.replace(path)
        return setting
