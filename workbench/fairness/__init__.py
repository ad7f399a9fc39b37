"""Fairness: decisions by protected group (fairlearn), bootstrap intervals, the proxy screen, the search for a
less discriminatory alternative, and findings."""

from workbench.fairness._alternatives import AlternativeSearch, search_alternatives
from workbench.fairness._assessment import (
    INTERSECTION_SEPARATOR,
    MIN_GROUP_SIZE,
    NAME_SEPARATOR,
    NO_PROTECTED_STATEMENT,
    TOO_FEW,
    AttributeFairness,
    FairnessReport,
    assess_attribute,
    group_name,
    intersection,
    named_groups,
    outcome_rates,
)
from workbench.fairness._evaluate import approval_figure, assess_fairness, fairness_findings
from workbench.fairness._proxies import cramers_v, proxy_associations, proxy_screen

__all__ = [
    "INTERSECTION_SEPARATOR",
    "MIN_GROUP_SIZE",
    "NAME_SEPARATOR",
    "NO_PROTECTED_STATEMENT",
    "TOO_FEW",
    "AlternativeSearch",
    "AttributeFairness",
    "FairnessReport",
    "approval_figure",
    "assess_attribute",
    "assess_fairness",
    "cramers_v",
    "fairness_findings",
    "group_name",
    "intersection",
    "named_groups",
    "outcome_rates",
    "proxy_associations",
    "proxy_screen",
    "search_alternatives",
]
