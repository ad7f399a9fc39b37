"""Rolling out a challenger: the rollout setting every server process follows, and the canary's judge.

The setting (``off``, ``shadow`` or ``canary`` with a share) lives in one small JSON file per model beside the
registry, so every worker process and every restart follows the same one; changes are written atomically
under a lock and recorded in the audit trail. The judge keeps the canary's most recent requests and rolls it
back when its error rate, its p99 scoring latency or the PSI of its scores against the champion's scores on
the same applications breaches the spec's ``serving.rollout`` limits.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from workbench.paths import registry_store
from workbench.spec._schema import RolloutLimits
from workbench.stats import fit_bins, psi_from_counts

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


@dataclass(frozen=True)
class CanaryVerdict:
    """Why a canary must be rolled back, with the measurements behind it."""

    reason: str
    measurements: dict[str, float]


class CanaryJudge:
    """Keeps the canary's last ``window`` requests and decides whether it breaches the limits."""

    def __init__(self, limits: RolloutLimits, reference_scores: np.ndarray) -> None:
        self.limits = limits
        self.bins = fit_bins(np.asarray(reference_scores, dtype=float), n_bins=10, categorical=False)
        self.errors: deque[bool] = deque(maxlen=limits.window)
        self.latencies: deque[float] = deque(maxlen=limits.window)
        self.canary_scores: deque[float] = deque(maxlen=limits.window)
        self.champion_scores: deque[float] = deque(maxlen=limits.window)
        self.seen = 0
        self._judged = 0

    def observe(self, *, error: bool, latency_ms: float, canary_score: float | None, champion_score: float) -> None:
        """One canary request: whether it failed, how long the canary took, and both scores."""
        self.seen += 1
        self.errors.append(error)
        self.latencies.append(latency_ms)
        if canary_score is not None:
            self.canary_scores.append(canary_score)
            self.champion_scores.append(champion_score)

    def measurements(self) -> dict[str, float]:
        """Error rate, p99 latency and score PSI over the window."""
        out = {"requests": float(len(self.errors))}
        if self.errors:
            out["error_rate"] = float(np.mean(self.errors))
            out["p99_ms"] = float(np.percentile(np.asarray(self.latencies), 99))
        if len(self.canary_scores) >= self.limits.window:
            out["score_psi"] = psi_from_counts(
                self.bins.counts(np.asarray(self.champion_scores)), self.bins.counts(np.asarray(self.canary_scores))
            )
        return out

    def due(self) -> bool:
        """Whether new observations arrived since the last verdict."""
        return self.seen != self._judged

    def verdict(self) -> CanaryVerdict | None:
        """A rollback verdict once ``min_requests`` were seen and a limit is breached, else None."""
        self._judged = self.seen
        if len(self.errors) < self.limits.min_requests:
            return None
        m = self.measurements()
        limits = self.limits
        if m["error_rate"] > limits.max_error_rate:
            return CanaryVerdict(f"error rate {m['error_rate']:.3f} above the limit {limits.max_error_rate}", m)
        if m["p99_ms"] > limits.max_p99_ms:
            return CanaryVerdict(f"p99 latency {m['p99_ms']:.1f} ms above the limit {limits.max_p99_ms} ms", m)
        if "score_psi" in m and m["score_psi"] > limits.max_score_psi:
            return CanaryVerdict(
                f"score PSI {m['score_psi']:.3f} against the champion above the limit {limits.max_score_psi}", m
            )
        return None
