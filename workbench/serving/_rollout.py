"""The canary's judge: rolls a canary back when it breaches the spec's ``serving.rollout`` limits.

It keeps the canary's most recent requests and judges their error rate, their p99 scoring latency and the
PSI of the canary's scores against the champion's scores on the same applications.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from workbench.spec import RolloutLimits
from workbench.stats import fit_bins, psi_from_counts


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
