"""Explainability: per-feature contributions (exact or TreeSHAP), reason codes, LIME and their agreement."""

from workbench.explain._contributions import ContributionExplainer, Reason
from workbench.explain._evaluate import ExplainabilityReport, explain_version, explainability_findings
from workbench.explain._lime import LimeExplainer

__all__ = [
    "ContributionExplainer",
    "ExplainabilityReport",
    "LimeExplainer",
    "Reason",
    "explain_version",
    "explainability_findings",
]
