"""Decisions: the rule that turns a score into a decision and the reason codes that explain it.

Every path that decides (training summaries, validation, the scoring server, replay, batch scoring,
monitoring) calls this package; nothing else compares a score with a cut-off or ranks reasons. Each policy
(credit's cut-off, fraud's alert budget, propensity's contact) is registered by name; a model kind names its own.
"""

from workbench.decision._aml import (
    AML_REASON_TEXTS,
    CapacityThreshold,
    aml_reason_texts,
    aml_reasons,
    capacity_threshold,
)
from workbench.decision._fraud import AlertRule, alert_rule_for_budget, budget_alert_rate, budget_threshold
from workbench.decision._propensity import ContactRule, break_even, contact_rule_for, expected_profit
from workbench.decision._reasons import fill_reason_text, reason_codes, spec_reason_codes
from workbench.decision._rule import (
    DecisionRule,
    decision_rule,
    fitted_rule,
    register_rule,
    rule_names,
    with_fitted_cutoff,
)

__all__ = [
    "AlertRule",
    "ContactRule",
    "DecisionRule",
    "alert_rule_for_budget",
    "break_even",
    "budget_alert_rate",
    "budget_threshold",
    "contact_rule_for",
    "decision_rule",
    "expected_profit",
    "fill_reason_text",
    "fitted_rule",
    "reason_codes",
    "register_rule",
    "rule_names",
    "spec_reason_codes",
    "with_fitted_cutoff",
]

# the AML kind's building blocks
__all__ += ["AML_REASON_TEXTS", "CapacityThreshold", "aml_reason_texts", "aml_reasons", "capacity_threshold"]
