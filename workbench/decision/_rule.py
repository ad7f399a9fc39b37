"""The decision rule: the one place where a score becomes a decision.

Training, validation, the scoring server, replay, batch scoring and monitoring all call this module, so a
recorded decision, a validation figure and a monitoring rate are computed by the same comparison. Each
decision policy registers its :class:`DecisionRule` subclass under a name through :func:`register_rule`, with
its own labels and, when training sets the threshold (an alert budget, a contact share), its own way of
fitting it on the development scores; a model kind (``workbench.kinds``) names the policy it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from workbench.kinds import kind_of

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


#: how a policy sets its threshold on development scores at training: (spec, scores, days spanned) -> rule
Fit = Callable[["ModelSpec", np.ndarray, float], DecisionRule]


@dataclass(frozen=True)
class _Policy:
    build: Callable[[ModelSpec], DecisionRule]
    fit: Fit | None


_RULES: dict[str, _Policy] = {}


def register_rule(name: str, fit: Fit | None = None) -> Callable[[Callable[[ModelSpec], DecisionRule]], Callable]:
    """Register a decision policy: how it builds its rule from a (registered) spec, and how training fits it.

    ``fit`` is for policies whose threshold training sets on the development scores and records as
    ``decision.cutoff``; without it the spec's own cut-off decides.
    """

    def decorate(build: Callable[[ModelSpec], DecisionRule]) -> Callable[[ModelSpec], DecisionRule]:
        if name in _RULES:
            raise ValueError(f"a decision rule {name!r} is registered twice")
        _RULES[name] = _Policy(build, fit)
        return build

    return decorate


@register_rule("cutoff")
def _credit_rule(spec: ModelSpec) -> DecisionRule:
    return DecisionRule(spec.decision.cutoff)


def _policy(spec: ModelSpec) -> _Policy:
    kind = kind_of(spec)
    try:
        return _RULES[kind.decision]
    except KeyError:
        raise ValueError(
            f"kind {kind.name!r}: no decision rule {kind.decision!r}; known: {', '.join(sorted(_RULES))}"
        ) from None


def decision_rule(spec: ModelSpec) -> DecisionRule:
    """The decision rule of the spec's model kind."""
    return _policy(spec).build(spec)


def rule_names() -> list[str]:
    """The registered decision policies (a kind names one of them)."""
    return sorted(_RULES)


def fitted_rule(spec: ModelSpec, development_scores: np.ndarray, days: float = 1.0) -> DecisionRule:
    """The rule a candidate is judged at: its own fitted threshold where training sets it, else the spec's."""
    policy = _policy(spec)
    return policy.fit(spec, development_scores, days) if policy.fit else policy.build(spec)


def with_fitted_cutoff(spec: ModelSpec, development_scores: np.ndarray, days: float = 1.0) -> ModelSpec:
    """The spec to register: where training sets the threshold, the fitted one becomes ``decision.cutoff``."""
    policy = _policy(spec)
    if policy.fit is None:
        return spec
    decision = spec.decision.model_copy(update={"cutoff": policy.fit(spec, development_scores, days).threshold})
    return spec.model_copy(update={"decision": decision})
