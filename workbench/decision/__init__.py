"""Decisions: the rule that turns a score into a decision and the reason codes that explain it.

Every path that decides (training summaries, validation, the scoring server, replay, batch scoring,
monitoring) calls this package; nothing else compares a score with a cut-off or ranks reasons.
"""

from workbench.decision._reasons import reason_codes, spec_reason_codes
from workbench.decision._rule import DecisionRule, decision_rule, register_rule

__all__ = ["DecisionRule", "decision_rule", "reason_codes", "register_rule", "spec_reason_codes"]
