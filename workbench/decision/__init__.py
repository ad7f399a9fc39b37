"""Decisions: the rule that turns a score into a decision and the reason codes that explain it.

Every path that decides (training summaries, validation, the scoring server, replay, batch scoring,
monitoring) calls this package; nothing else compares a score with a cut-off or ranks reasons.
"""

from workbench.decision._aml import (
    AML_REASON_TEXTS,
    CapacityThreshold,
    aml_reason_texts,
    aml_reasons,
    capacity_threshold,
)
from workbench.decision._fraud import AlertRule, alert_rule_for_budget, budget_alert_rate, budget_threshold
from workbench.decision._reasons import fill_reason_text, reason_codes, spec_reason_codes
from workbench.decision._rule import DecisionRule, decision_rule, register_rule

__all__ = [
    "AlertRule",
    "DecisionRule",
    "alert_rule_for_budget",
    "budget_alert_rate",
    "budget_threshold",
    "decision_rule",
    "fill_reason_text",
    "reason_codes",
    "register_rule",
    "spec_reason_codes",
]

# the AML kind's building blocks
__all__ += ["AML_REASON_TEXTS", "CapacityThreshold", "aml_reason_texts", "aml_reasons", "capacity_threshold"]
