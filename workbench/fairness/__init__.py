"""Fairness: decisions by protected group (fairlearn), bootstrap intervals, the proxy screen and findings."""

from workbench.fairness._assessment import (
    INTERSECTION_SEPARATOR,
    AttributeFairness,
    FairnessReport,
    assess_attribute,
    intersection,
    outcome_rates,
)
from workbench.fairness._evaluate import approval_figure, assess_fairness, fairness_findings
from workbench.fairness._proxies import cramers_v, proxy_screen

__all__ = [
    "INTERSECTION_SEPARATOR",
    "AttributeFairness",
    "FairnessReport",
    "approval_figure",
    "assess_attribute",
    "assess_fairness",
    "cramers_v",
    "fairness_findings",
    "intersection",
    "outcome_rates",
    "proxy_screen",
]
