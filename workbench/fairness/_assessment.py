"""Fairness of decisions by protected group, with bootstrap confidence intervals (fairlearn metrics).

The favourable decision is approval. For each protected attribute, and for the intersection of all of them,
the assessment reports per-group approval rates, the disparate-impact ratio against the reference group (the
four-fifths rule), demographic-parity and equalized-odds differences, and equal opportunity (approval rate
among applicants whose outcome was good).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

INTERSECTION_SEPARATOR = " & "


@dataclass
class AttributeFairness:
    """Fairness of one protected attribute (or the intersection): per-group table and summary statistics."""

    attribute: str
    reference: str
    groups: pd.DataFrame
    disparate_impact: float
    disparate_impact_ci: tuple[float, float]
    demographic_parity_difference: float
    demographic_parity_ci: tuple[float, float]
    equalized_odds_difference: float
    equalized_odds_ci: tuple[float, float]
    equal_opportunity_difference: float
    equal_opportunity_ci: tuple[float, float]
    worst_group: str

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one row."""
        return {
            "attribute": self.attribute,
            "reference": self.reference,
            "worst_group": self.worst_group,
            "disparate_impact": self.disparate_impact,
            "di_ci_low": self.disparate_impact_ci[0],
            "di_ci_high": self.disparate_impact_ci[1],
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
            "equal_opportunity_difference": self.equal_opportunity_difference,
        }


def _group_table(y_good: np.ndarray, approved: np.ndarray, groups: pd.Series) -> pd.DataFrame:
    frame = MetricFrame(
        metrics={
            "count": count,
            "approval_rate": selection_rate,
            "approval_rate_good": true_positive_rate,
            "approval_rate_adverse": false_positive_rate,
        },
        y_true=y_good,
        y_pred=approved,
        sensitive_features=groups,
    )
    table = frame.by_group.reset_index()
    table.columns = ["group", *table.columns[1:]]
    table["count"] = table["count"].astype(int)
    table["adverse_rate"] = pd.Series(1 - y_good).groupby(groups.to_numpy()).mean().reindex(table["group"]).to_numpy()
    return table


def _rates(values: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    totals = np.bincount(codes, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(codes, weights=values, minlength=k) / totals


def _statistics(
    y_good: np.ndarray, approved: np.ndarray, codes: np.ndarray, k: int, reference: int
) -> dict[str, float]:
    """Plain-numpy statistics for the bootstrap (fairlearn's own functions give the point estimates)."""
    rates = _rates(approved, codes, k)
    good, bad = y_good == 1, y_good == 0
    tpr = _rates(approved[good], codes[good], k)
    fpr = _rates(approved[bad], codes[bad], k)
    others = np.delete(rates, reference)
    return {
        "disparate_impact": float(np.nanmin(others) / rates[reference]) if rates[reference] > 0 else float("nan"),
        "demographic_parity_difference": float(np.nanmax(rates) - np.nanmin(rates)),
        "equalized_odds_difference": float(max(np.nanmax(tpr) - np.nanmin(tpr), np.nanmax(fpr) - np.nanmin(fpr))),
        "equal_opportunity_difference": float(np.nanmax(tpr) - np.nanmin(tpr)),
    }


def _interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    finite = np.asarray([v for v in values if np.isfinite(v)])
    if not len(finite):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    return (float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail)))


def assess_attribute(
    attribute: str,
    y_adverse: np.ndarray,
    declined: np.ndarray,
    groups: pd.Series,
    reference: str,
    n_boot: int = 500,
    seed: int = 0,
) -> AttributeFairness:
    """Per-group table and statistics for one attribute, with percentile bootstrap intervals."""
    y_good = 1 - np.asarray(y_adverse, dtype=int)
    approved = 1 - np.asarray(declined, dtype=int)
    groups = pd.Series(np.asarray(groups).astype(str), name=attribute)
    levels = sorted(groups.unique())
    if reference not in levels:
        raise ValueError(f"reference group {reference!r} of {attribute!r} is not in the sample ({levels})")
    codes = groups.map({g: i for i, g in enumerate(levels)}).to_numpy()
    k, ref = len(levels), levels.index(reference)
    point = _statistics(y_good, approved, codes, k, ref)
    point["demographic_parity_difference"] = float(
        demographic_parity_difference(y_good, approved, sensitive_features=groups)
    )
    point["equalized_odds_difference"] = float(equalized_odds_difference(y_good, approved, sensitive_features=groups))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {key: [] for key in point}
    n = len(groups)
    for _ in range(n_boot):
        rows = rng.integers(0, n, n)
        for key, value in _statistics(y_good[rows], approved[rows], codes[rows], k, ref).items():
            draws[key].append(value)
    table = _group_table(y_good, approved, groups)
    ref_rate = (
        float(table.loc[table["group"] == reference, "approval_rate"].iloc[0])
        if (table["group"] == reference).any()
        else float("nan")
    )
    table["disparate_impact"] = table["approval_rate"] / ref_rate
    others = table[table["group"] != reference]
    worst = str(others.loc[others["disparate_impact"].idxmin(), "group"]) if len(others) else reference
    return AttributeFairness(
        attribute=attribute,
        reference=reference,
        groups=table,
        disparate_impact=point["disparate_impact"],
        disparate_impact_ci=_interval(draws["disparate_impact"]),
        demographic_parity_difference=point["demographic_parity_difference"],
        demographic_parity_ci=_interval(draws["demographic_parity_difference"]),
        equalized_odds_difference=point["equalized_odds_difference"],
        equalized_odds_ci=_interval(draws["equalized_odds_difference"]),
        equal_opportunity_difference=point["equal_opportunity_difference"],
        equal_opportunity_ci=_interval(draws["equal_opportunity_difference"]),
        worst_group=worst,
    )


def outcome_rates(outcome_good: np.ndarray, groups: pd.Series, reference: str) -> pd.DataFrame:
    """Favourable-outcome rates by group in historical data and their ratio to the reference group."""
    frame = pd.DataFrame({"group": np.asarray(groups).astype(str), "good": np.asarray(outcome_good, dtype=float)})
    table = frame.groupby("group")["good"].agg(count="size", good_rate="mean").reset_index()
    table["ratio_to_reference"] = table["good_rate"] / float(
        table.loc[table["group"] == reference, "good_rate"].iloc[0]
    )
    return table


@dataclass
class FairnessReport:
    """Fairness of one version's decisions for every protected attribute and their intersection."""

    attributes: list[AttributeFairness]
    proxies: pd.DataFrame
    floor: float
    cutoff: float
    observed: dict[str, pd.DataFrame] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per attribute with the headline statistics and the four-fifths verdict."""
        table = pd.DataFrame([a.summary() for a in self.attributes])
        table["four_fifths"] = np.where(table["disparate_impact"] >= self.floor, "pass", "breach")
        return table

    def attribute(self, name: str) -> AttributeFairness:
        """The assessment of one attribute."""
        return next(a for a in self.attributes if a.attribute == name)

    def to_dict(self, findings: list | None = None) -> dict[str, Any]:
        """JSON-ready form with the findings it raised, as logged to the validator's run."""
        from workbench.findings import table_records

        return {
            "floor": self.floor,
            "cutoff": self.cutoff,
            "summary": table_records(self.summary()),
            "groups": {a.attribute: table_records(a.groups) for a in self.attributes},
            "intervals": {
                a.attribute: {
                    "disparate_impact": a.disparate_impact_ci,
                    "demographic_parity_difference": a.demographic_parity_ci,
                    "equalized_odds_difference": a.equalized_odds_ci,
                    "equal_opportunity_difference": a.equal_opportunity_ci,
                }
                for a in self.attributes
            },
            "proxies": table_records(self.proxies),
            "observed_outcomes": {name: table_records(t) for name, t in self.observed.items()},
            "findings": [f.to_dict() for f in findings or []],
        }


def intersection(groups: pd.DataFrame) -> pd.Series:
    """Group labels of the intersection of all attributes, e.g. 'female & <25'."""
    return groups.astype(str).agg(INTERSECTION_SEPARATOR.join, axis=1)
