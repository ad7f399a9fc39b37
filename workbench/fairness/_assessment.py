"""Fairness of decisions by protected group, with bootstrap confidence intervals (fairlearn metrics).

The favourable decision is approval. For each protected attribute, and for the intersection of all of them,
the assessment reports per-group approval rates, the disparate-impact ratio against the reference group (the
four-fifths rule), demographic-parity and equalized-odds differences, and equal opportunity (approval rate
among applicants whose outcome was good).

Group labels always name their attribute (``sex=female``; an intersection ``sex=female & age_group=<25``), so
a label read alone in a finding or a summary is never ambiguous (``yes`` of which attribute?); missing
values are the group ``attribute=(missing)``. A group with fewer applicants than the minimum group size is
shown with its rates but marked too few to assess: it takes no part in the ratios, differences and intervals.
"""

from __future__ import annotations

import math
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

from workbench.findings import plain, table_records
from workbench.spec import group_labels, label_key

INTERSECTION_SEPARATOR = " & "
#: between an attribute and its group in a label: ``sex=female``
NAME_SEPARATOR = "="
#: groups with fewer applicants than the minimum group size are shown, not judged
TOO_FEW = "too few to assess"
#: the default minimum group size (the spec's ``fairness.min_group_size``)
MIN_GROUP_SIZE = 30


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
    min_group_size: int = MIN_GROUP_SIZE

    @property
    def too_few(self) -> list[str]:
        """Groups (the reference too) with fewer applicants than the minimum group size: shown, not judged."""
        return [str(g) for g in self.groups.loc[self.groups["count"] < self.min_group_size, "group"]]

    @property
    def assessed(self) -> bool:
        """True when the reference and at least one other group are large enough to compare."""
        return math.isfinite(self.disparate_impact)

    def count(self, group: str) -> int:
        """Applicants of one group in the sample assessed (0 for a group not in it)."""
        counts = self.groups.loc[self.groups["group"] == group, "count"]
        return int(counts.iloc[0]) if len(counts) else 0

    def summary(self) -> dict[str, Any]:
        """The headline numbers as one row, with the sizes of the groups compared."""
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
            "n_reference": self.count(self.reference),
            "n_worst_group": self.count(self.worst_group) if self.worst_group else None,
            "groups_too_few": len(self.too_few),
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


def _nan_statistics() -> dict[str, float]:
    return dict.fromkeys(
        [
            "disparate_impact",
            "demographic_parity_difference",
            "equalized_odds_difference",
            "equal_opportunity_difference",
        ],
        float("nan"),
    )


def assess_attribute(
    attribute: str,
    y_adverse: np.ndarray,
    declined: np.ndarray,
    groups: pd.Series,
    reference: str,
    n_boot: int = 500,
    seed: int = 0,
    min_group_size: int = MIN_GROUP_SIZE,
) -> AttributeFairness:
    """Per-group table and statistics for one attribute, with percentile bootstrap intervals.

    Groups (canonical labels, missing values as ``(missing)``) with fewer than ``min_group_size`` applicants
    are kept in the table, marked too few to assess, and left out of every statistic. When the reference
    group or every other group is that small, the attribute cannot be assessed: its statistics are NaN.
    """
    y_good = 1 - np.asarray(y_adverse, dtype=int)
    approved = 1 - np.asarray(declined, dtype=int)
    groups = group_labels(pd.Series(np.asarray(groups, dtype=object), name=attribute))
    reference = label_key(reference) or reference
    levels = sorted(groups.unique())
    if reference not in levels:
        raise ValueError(f"reference group {reference!r} of {attribute!r} is not in the sample ({levels})")
    sizes = groups.value_counts()
    large = [g for g in levels if sizes[g] >= min_group_size]
    point, draws = _nan_statistics(), {key: [] for key in _nan_statistics()}
    if reference in large and len(large) > 1:
        rows = groups.isin(large).to_numpy()
        kept, good, yes = groups[rows].reset_index(drop=True), y_good[rows], approved[rows]
        codes = kept.map({g: i for i, g in enumerate(large)}).to_numpy()
        k, ref = len(large), large.index(reference)
        point = _statistics(good, yes, codes, k, ref)
        point["demographic_parity_difference"] = float(
            demographic_parity_difference(good, yes, sensitive_features=kept)
        )
        point["equalized_odds_difference"] = float(equalized_odds_difference(good, yes, sensitive_features=kept))
        rng = np.random.default_rng(seed)
        n = len(kept)
        for _ in range(n_boot):
            draw = rng.integers(0, n, n)
            for key, value in _statistics(good[draw], yes[draw], codes[draw], k, ref).items():
                draws[key].append(value)
    table = _group_table(y_good, approved, groups)
    large_enough = table["count"] >= min_group_size
    table["assessment"] = np.where(
        table["group"] == reference,
        np.where(large_enough, "reference", f"reference, {TOO_FEW}"),
        np.where(large_enough, "assessed", TOO_FEW),
    )
    ref_rate = float(table.loc[table["group"] == reference, "approval_rate"].iloc[0])
    if reference in large:
        table["disparate_impact"] = np.where(
            table["count"] >= min_group_size, table["approval_rate"] / ref_rate, np.nan
        )
    else:
        table["disparate_impact"] = np.nan
    others = table[(table["group"] != reference) & table["disparate_impact"].notna()]
    worst = str(others.loc[others["disparate_impact"].idxmin(), "group"]) if len(others) else ""
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
        min_group_size=min_group_size,
    )


def outcome_rates(outcome_good: np.ndarray, groups: pd.Series, reference: str) -> pd.DataFrame:
    """Favourable-outcome rates by group in historical data and their ratio to the reference group."""
    labels = group_labels(pd.Series(np.asarray(groups, dtype=object)))
    frame = pd.DataFrame({"group": labels.to_numpy(), "good": np.asarray(outcome_good, dtype=float)})
    table = frame.groupby("group")["good"].agg(count="size", good_rate="mean").reset_index()
    reference = label_key(reference) or reference
    table["ratio_to_reference"] = table["good_rate"] / float(
        table.loc[table["group"] == reference, "good_rate"].iloc[0]
    )
    return table


#: what the fairness report and the SR 11-7 document say of a model with no protected attribute
NO_PROTECTED_STATEMENT = (
    "No protected attribute was provided: disparate impact could not be assessed (no approval rates by group, "
    "no four-fifths check, no search for a less discriminatory alternative)."
)

_SUMMARY_COLUMNS = [
    "attribute",
    "reference",
    "worst_group",
    "disparate_impact",
    "di_ci_low",
    "di_ci_high",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "n_reference",
    "n_worst_group",
    "groups_too_few",
]


@dataclass
class FairnessReport:
    """Fairness of one version's decisions for every protected attribute and their intersection.

    ``protected`` names the protected attributes (none: disparate impact could not be assessed, and
    ``attributes`` is empty); ``screening`` names the attributes screened for proxies only;
    ``proxy_features`` holds every input's association with every screened group (the proxy screen's
    ranking, strongest first within a group).
    """

    attributes: list[AttributeFairness]
    proxies: pd.DataFrame
    floor: float
    cutoff: float
    observed: dict[str, pd.DataFrame] = field(default_factory=dict)
    min_group_size: int = MIN_GROUP_SIZE
    protected: list[str] = field(default_factory=list)
    screening: list[str] = field(default_factory=list)
    no_protected_reason: str | None = None
    proxy_features: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["attribute", "group", "feature", "cramers_v"])
    )

    def summary(self) -> pd.DataFrame:
        """One row per attribute with the headline statistics and the four-fifths verdict."""
        table = pd.DataFrame([a.summary() for a in self.attributes], columns=_SUMMARY_COLUMNS)
        table["four_fifths"] = np.where(
            table["disparate_impact"].isna(),
            TOO_FEW,
            np.where(table["disparate_impact"] >= self.floor, "pass", "breach"),
        )
        return table

    def attribute(self, name: str) -> AttributeFairness:
        """The assessment of one attribute."""
        return next(a for a in self.attributes if a.attribute == name)

    def to_dict(self, findings: list | None = None, alternatives: Any = None) -> dict[str, Any]:
        """JSON-ready form with its findings and the alternatives searched, as logged to the validator's run."""
        return {
            "floor": self.floor,
            "cutoff": self.cutoff,
            "min_group_size": self.min_group_size,
            "protected_attributes": list(self.protected),
            "screening_attributes": list(self.screening),
            "no_protected_attributes": None
            if self.attributes
            else {"statement": NO_PROTECTED_STATEMENT, "reason": self.no_protected_reason},
            "summary": table_records(self.summary()),
            "groups": {a.attribute: table_records(a.groups) for a in self.attributes},
            "intervals": {
                a.attribute: plain(
                    {
                        "disparate_impact": a.disparate_impact_ci,
                        "demographic_parity_difference": a.demographic_parity_ci,
                        "equalized_odds_difference": a.equalized_odds_ci,
                        "equal_opportunity_difference": a.equal_opportunity_ci,
                    }
                )
                for a in self.attributes
            },
            "proxies": table_records(self.proxies),
            "observed_outcomes": {name: table_records(t) for name, t in self.observed.items()},
            "alternatives": alternatives.to_dict() if alternatives is not None else None,
            "findings": [f.to_dict() for f in findings or []],
        }


def group_name(attribute: str, group: Any) -> str:
    """The label of one group that names its attribute: ``sex=female``, ``age_group=(missing)``."""
    return f"{attribute}{NAME_SEPARATOR}{group}"


def named_groups(attribute: str, values: pd.Series) -> pd.Series:
    """Group labels of a column that name the attribute (canonical values, missing as ``(missing)``)."""
    labels = group_labels(pd.Series(np.asarray(values, dtype=object)))
    return (attribute + NAME_SEPARATOR + labels).rename(attribute)


def intersection(groups: pd.DataFrame) -> pd.Series:
    """Group labels of the intersection of all attributes (one column each), e.g. 'sex=female & age_group=<25'."""
    named = pd.DataFrame({name: named_groups(str(name), groups[name]).to_numpy() for name in groups.columns})
    return named.agg(INTERSECTION_SEPARATOR.join, axis=1)
