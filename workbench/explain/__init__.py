"""Explainability: per-feature contributions (exact or TreeSHAP), reason codes, LIME and their agreement."""

from workbench.explain._contributions import ContributionExplainer, Reason, column_owners
from workbench.explain._evaluate import ExplainabilityReport, explain_version, explainability_findings
from workbench.explain._lime import LimeExplainer

__all__ = [
    "ContributionExplainer",
    "ExplainabilityReport",
    "LimeExplainer",
    "Reason",
    "column_owners",
    "explain_version",
    "explainability_findings",
]
