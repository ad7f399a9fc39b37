"""The propensity kind's decision: whom a campaign contacts.

Here the favourable decision is the contact (an offer reaches the customer), so the rule turns the comparison
round: :meth:`ContactRule.adverse` is "not contacted", and every figure built on the favourable rate (the
approval-rate ratios of the fairness analysis, monitoring's rates) reads as the offer rate with no other change.
The threshold is either the score of the top ``decision.contact_share`` of the development sample, or the
break-even probability ``contact_cost / value`` (expected profit ``p * value - contact_cost`` not negative);
training records it as ``decision.cutoff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from workbench.decision._fraud import budget_threshold
from workbench.decision._rule import DecisionRule, register_rule

if TYPE_CHECKING:
    from workbench.spec import ModelSpec


@dataclass(frozen=True)
class ContactRule(DecisionRule):
    """Contact (send the offer) when the propensity score is at or above ``threshold``."""

    adverse_label: ClassVar[str] = "no contact"
    favourable_label: ClassVar[str] = "contact"

    def adverse(self, scores: np.ndarray | float) -> np.ndarray:
        """True where the customer is not contacted."""
        return np.asarray(scores, dtype=float) < self.threshold

    def contacted(self, scores: np.ndarray | float) -> np.ndarray:
        """True where the customer is contacted."""
        return np.asarray(scores, dtype=float) >= self.threshold

    def label(self, score: float) -> str:
        """The decision for one score."""
        return self.favourable_label if score >= self.threshold else self.adverse_label

    def favourable_rate(self, scores: np.ndarray) -> float:
        """Share contacted (the offer rate)."""
        scores = np.asarray(scores, dtype=float)
        return float((scores >= self.threshold).mean()) if scores.size else float("nan")


def break_even(contact_cost: float, value: float) -> float:
    """The least probability of a sale at which a contact pays: expected profit p x value - cost >= 0."""
    return min(max(contact_cost / value, float(np.nextafter(0.0, 1.0))), float(np.nextafter(1.0, 0.0)))


def contact_rule_for(spec: ModelSpec, development_scores: np.ndarray) -> ContactRule:
    """The contact rule of the spec on these (development) scores: the top share, or break-even profit."""
    decision = spec.decision
    if decision.contact_share is not None:
        return ContactRule(budget_threshold(development_scores, decision.contact_share))
    return ContactRule(break_even(float(decision.contact_cost or 0.0), float(decision.value or 1.0)))


def expected_profit(y: np.ndarray, contacted: np.ndarray, contact_cost: float, value: float) -> float:
    """Realised profit of contacting these customers: value of each buyer contacted less the cost of every contact."""
    contacted = np.asarray(contacted, dtype=bool)
    return float(value * np.sum(np.asarray(y)[contacted] == 1) - contact_cost * contacted.sum())


def _fit(spec: ModelSpec, development_scores: np.ndarray, days: float) -> DecisionRule:
    return contact_rule_for(spec, development_scores)


@register_rule("contact", fit=_fit)
def _contact_rule(spec: ModelSpec) -> DecisionRule:
    if spec.decision.cutoff is None:
        raise ValueError(
            "decision.cutoff: a propensity model's threshold is set by training from decision.contact_share or "
            "decision.contact_cost and decision.value; use the spec registered with the version"
        )
    return ContactRule(spec.decision.cutoff)
