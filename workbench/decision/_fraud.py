"""The fraud kind's decision: alert within a review budget.

A fraud model does not decline anyone; it sends the riskiest transactions to human review, as many as the
review team can take. The budget (``decision.alert_rate`` or ``decision.max_alerts_per_day``) becomes a
threshold on the development sample's scores at training, recorded as ``decision.cutoff`` in the registered
spec; from then on every path alerts at or above it, through the same comparison as credit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from workbench.decision._rule import DecisionRule, register_rule

if TYPE_CHECKING:
    from workbench.spec import ModelSpec


@dataclass(frozen=True)
class AlertRule(DecisionRule):
    """Alert (send to review) when the fraud score is at or above ``threshold``; otherwise clear."""

    adverse_label: ClassVar[str] = "alert"
    favourable_label: ClassVar[str] = "clear"


def _fit_alert_rule(spec: ModelSpec, development_scores: np.ndarray, days: float) -> DecisionRule:
    return alert_rule_for_budget(spec, development_scores, days)


@register_rule("alert_budget", fit=_fit_alert_rule)
def _fraud_rule(spec: ModelSpec) -> DecisionRule:
    if spec.decision.cutoff is None:
        raise ValueError(
            "decision.cutoff: a fraud model's threshold is set by training from decision.alert_rate or "
            "decision.max_alerts_per_day; use the spec registered with the version"
        )
    return AlertRule(spec.decision.cutoff)


def budget_alert_rate(spec: ModelSpec, n_events: int, days: float) -> float:
    """The share of transactions the budget allows: ``alert_rate``, or alerts per day over events per day."""
    if spec.decision.alert_rate is not None:
        return float(spec.decision.alert_rate)
    per_day = n_events / max(days, 1e-9)
    return float(min(1.0, float(spec.decision.max_alerts_per_day or 0.0) / per_day))


def budget_threshold(scores: np.ndarray, rate: float) -> float:
    """The score at or above which the top ``rate`` share of ``scores`` is alerted (the k-th largest score).

    Ties at the threshold are all alerted, so the realised rate can exceed the budget by the tied scores.
    """
    scores = np.asarray(scores, dtype=float)
    if not scores.size:
        raise ValueError("no scores to set an alert threshold on")
    k = max(1, math.ceil(rate * scores.size))
    threshold = float(np.partition(scores, scores.size - k)[scores.size - k])
    return min(max(threshold, np.nextafter(0.0, 1.0)), np.nextafter(1.0, 0.0))


def alert_rule_for_budget(spec: ModelSpec, scores: np.ndarray, days: float) -> AlertRule:
    """The alert rule that meets the spec's budget on these (development) scores."""
    return AlertRule(budget_threshold(scores, budget_alert_rate(spec, len(scores), days)))
