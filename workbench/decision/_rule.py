"""The decision rule: the one place where a score becomes a decision.

Training, validation, the scoring server, replay, batch scoring and monitoring all call this module, so a
recorded decision, a validation figure and a monitoring rate are computed by the same comparison. A model
kind (credit today; fraud, AML and propensity as they arrive) supplies its own :class:`DecisionRule`
subclass through :func:`register_rule`, with its own labels and its own way of setting the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from workbench.spec import ModelSpec


@dataclass(frozen=True)
class DecisionRule:
    """Adverse decision when the score (probability of the adverse outcome) is at or above ``threshold``.

    The comparison is ``>=``: a score exactly at the cut-off is declined, as the spec's ``decision.cutoff``
    documents.
    """

    threshold: float
    adverse_label: ClassVar[str] = "decline"
    favourable_label: ClassVar[str] = "approve"

    def adverse(self, scores: np.ndarray | float) -> np.ndarray:
        """True where the decision is the adverse one."""
        return np.asarray(scores, dtype=float) >= self.threshold

    def label(self, score: float) -> str:
        """The decision for one score, as recorded and returned."""
        return self.adverse_label if score >= self.threshold else self.favourable_label

    def labels(self, scores: np.ndarray) -> list[str]:
        """The decision for each score."""
        return [self.adverse_label if s else self.favourable_label for s in self.adverse(scores).tolist()]

    def favourable_rate(self, scores: np.ndarray) -> float:
        """Share of favourable decisions (the approval rate for credit)."""
        scores = np.asarray(scores, dtype=float)
        return float((scores < self.threshold).mean()) if scores.size else float("nan")

    def with_threshold(self, threshold: float) -> DecisionRule:
        """The same rule at another threshold (cut-off sweeps, sensitivity)."""
        return type(self)(threshold)


_RULES: dict[str, Callable[[ModelSpec], DecisionRule]] = {}


def register_rule(kind: str) -> Callable[[Callable[[ModelSpec], DecisionRule]], Callable[[ModelSpec], DecisionRule]]:
    """Register how a model kind builds its decision rule from a spec."""

    def decorate(build: Callable[[ModelSpec], DecisionRule]) -> Callable[[ModelSpec], DecisionRule]:
        if kind in _RULES:
            raise ValueError(f"a decision rule for kind {kind!r} is registered twice")
        _RULES[kind] = build
        return build

    return decorate


@register_rule("credit")
def _credit_rule(spec: ModelSpec) -> DecisionRule:
    return DecisionRule(spec.decision.cutoff)


def decision_rule(spec: ModelSpec) -> DecisionRule:
    """The decision rule of the spec's model kind."""
    kind = getattr(spec, "kind", "credit")
    try:
        return _RULES[kind](spec)
    except KeyError:
        raise ValueError(f"kind: no decision rule for {kind!r}; known: {', '.join(sorted(_RULES))}") from None
