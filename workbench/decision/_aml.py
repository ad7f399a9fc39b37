"""The AML kind's decision: alert on an account when its score reaches a threshold the investigators can staff.

A transaction-monitoring model raises alerts that investigators work; the team clears so many a day. The
capacity (``decision.max_alerts_per_day``) becomes a threshold on the development sample's scores: the score at
or above which the sample would have raised that many alerts per day. The expected alerts per day at that
threshold (more than the capacity when scores tie at it) is reported with it. The comparison itself is the
fraud kind's :class:`AlertRule` (alert at or above the threshold), so every path alerts the same way.

Reasons an investigator reads are facts about the account's window ("fan-in from 14 new counterparties in
7 days"), ranked by the same :func:`reason_codes` as every other kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.decision._fraud import AlertRule, budget_threshold
from workbench.decision._reasons import reason_codes


@dataclass(frozen=True)
class CapacityThreshold:
    """The threshold that meets the investigators' capacity on a development sample, with what it implies."""

    threshold: float
    max_alerts_per_day: float
    days: float
    cases: int
    alert_rate_budget: float
    alerts: int
    expected_alerts_per_day: float

    @property
    def rule(self) -> AlertRule:
        """The alert rule at this threshold."""
        return AlertRule(self.threshold)


def capacity_threshold(scores: np.ndarray, days: float, max_alerts_per_day: float) -> CapacityThreshold:
    """The alert threshold for ``max_alerts_per_day`` on development ``scores`` covering ``days`` days.

    The budget share is capacity over cases per day (at most 1); the threshold is the k-th largest score
    (:func:`budget_threshold`); ``expected_alerts_per_day`` is what the rule at that threshold raises on the
    sample, per day.
    """
    scores = np.asarray(scores, dtype=float)
    if not scores.size:
        raise ValueError("scores: no development scores to set an alert threshold on")
    if np.isnan(scores).any():
        raise ValueError(f"scores: {int(np.isnan(scores).sum())} missing score(s)")
    if not days > 0:
        raise ValueError(f"days: the development sample's span must be positive, got {days}")
    if not max_alerts_per_day > 0:
        raise ValueError(f"decision.max_alerts_per_day: must be positive, got {max_alerts_per_day}")
    rate = float(min(1.0, max_alerts_per_day / (scores.size / days)))
    threshold = budget_threshold(scores, rate)
    alerts = int(AlertRule(threshold).adverse(scores).sum())
    return CapacityThreshold(
        threshold=threshold,
        max_alerts_per_day=float(max_alerts_per_day),
        days=float(days),
        cases=int(scores.size),
        alert_rate_budget=rate,
        alerts=alerts,
        expected_alerts_per_day=alerts / days,
    )


#: feature stem -> reason text with ``{value}`` and ``{days}``; the threshold fills ``{threshold}``
AML_REASON_TEXTS: dict[str, str] = {
    "new_senders": "fan-in from {value:.0f} new counterparties in {days} days",
    "fan_in": "money in from {value:.0f} different senders in {days} days",
    "fan_out": "money out to {value:.0f} different receivers in {days} days",
    "counterparties": "{value:.0f} different counterparties in {days} days",
    "new_counterparties": "{value:.0f} counterparties never seen before in {days} days",
    "cash_share": "{value:.0%} of the value moved in cash in {days} days",
    "under_threshold_count": "{value:.0f} transfers just under the {threshold:,.0f} reporting threshold in {days} days",
    "under_threshold_share": "{value:.0%} of transfers just under the {threshold:,.0f} reporting threshold in "
    "{days} days",
    "pass_through_hours": "money passed through in a median {value:.1f} hours in {days} days",
    "inflow_outflow_ratio": "money in {value:.2f} times money out in {days} days",
    "inflow": "{value:,.0f} received in {days} days",
    "outflow": "{value:,.0f} paid out in {days} days",
    "transfers": "{value:.0f} transfers in {days} days",
}
_WINDOWED = re.compile(r"^(?P<stem>.+)_(?P<days>\d+)d$")
_THRESHOLD = re.compile(r"\{threshold(?::(?P<spec>[^}]*))?\}")


def aml_reason_texts(features: Sequence[str], threshold: float = 10_000.0) -> dict[str, str]:
    """Reason texts (with ``{value}`` left to fill) for the windowed AML features among ``features``.

    A feature named ``<stem>_<days>d`` with a stem in :data:`AML_REASON_TEXTS` gets that text with the days and
    threshold filled; any other feature is left out (its name is its reason).
    """
    texts = {}
    for name in features:
        match = _WINDOWED.match(name)
        if match and match["stem"] in AML_REASON_TEXTS:
            template = AML_REASON_TEXTS[match["stem"]].replace("{days}", match["days"])
            texts[name] = _THRESHOLD.sub(lambda m: format(threshold, m["spec"] or ""), template)
    return texts


def aml_reasons(
    contributions: np.ndarray,
    features: Sequence[str],
    values: Sequence[Sequence[Any]],
    k: int = 3,
    *,
    threshold: float = 10_000.0,
    texts: Mapping[str, str] | None = None,
) -> list[list[dict[str, Any]]]:
    """The top ``k`` reasons per account, as investigator-readable facts with the feature values filled in.

    ``contributions`` and ``values`` are accounts x ``features``; ranking is :func:`reason_codes` (largest
    positive contribution first). ``texts`` overrides or adds texts per feature.
    """
    merged = aml_reason_texts(features, threshold) | dict(texts or {})
    return reason_codes(contributions, features, merged, k, values)
