"""Per-period counts of production decisions, added up chunk by chunk, and the drift statistics from them.

A chunk of decisions (any number of rows) is reduced to counts per period: per feature the PSI bins and the
exact KS / chi-square cells, the score bins, decisions, declines by top reason, and (for labelled rows) score
and outcome. Counts of two chunks add up, so memory depends on periods and bins, never on rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from workbench.monitoring._reference import FeatureReference, MonitoringReference
from workbench.stats import psi_from_counts


@dataclass
class PeriodCounts:
    """Everything monitoring needs about one period, as counts."""

    rows: int = 0
    declines: int = 0
    score_sum: float = 0.0
    feature_bins: dict[str, np.ndarray] = field(default_factory=dict)
    feature_cells: dict[str, np.ndarray] = field(default_factory=dict)
    score_bins: np.ndarray | None = None
    top_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: PeriodCounts) -> None:
        """Add another chunk's counts for the same period."""
        self.rows += other.rows
        self.declines += other.declines
        self.score_sum += other.score_sum
        for target, source in ((self.feature_bins, other.feature_bins), (self.feature_cells, other.feature_cells)):
            for name, counts in source.items():
                target[name] = target[name] + counts if name in target else counts.copy()
        self.score_bins = other.score_bins if self.score_bins is None else self.score_bins + other.score_bins
        for reason, count in other.top_reasons.items():
            self.top_reasons[reason] = self.top_reasons.get(reason, 0) + count


def count_chunk(chunk: pd.DataFrame, reference: MonitoringReference) -> PeriodCounts:
    """Counts of one chunk of one period (columns: the features, ``score``, ``decision``, ``top_reason``)."""
    counts = PeriodCounts(rows=len(chunk))
    adverse = chunk["decision"] == reference.rule.adverse_label
    counts.declines = int(adverse.sum())
    counts.score_sum = float(chunk["score"].sum())
    for name, feature in reference.features.items():
        column = chunk[name]
        if feature.kind == "numeric":
            values = column.to_numpy(dtype=float)
            counts.feature_bins[name] = feature.bin_counts(values)
            counts.feature_cells[name] = feature.ks_cells(values[~np.isnan(values)])
        elif isinstance(column.dtype, pd.CategoricalDtype):  # count codes, then map the few categories
            per_category = np.bincount(column.cat.codes.to_numpy() + 1, minlength=len(column.cat.categories) + 1)
            categories = pd.Series(column.cat.categories.astype(str))
            bins = feature.bins.codes(categories)
            counts.feature_bins[name] = np.bincount(bins, weights=per_category[1:], minlength=len(feature.bins.labels))
            counts.feature_bins[name][-1] += per_category[0]
            counts.feature_bins[name] = counts.feature_bins[name].astype(np.int64)
            index = {level: i for i, level in enumerate(feature.support)}
            landing = [index.get(c, len(feature.support)) for c in categories]  # unseen levels share the last cell
            counts.feature_cells[name] = np.bincount(
                landing, weights=per_category[1:], minlength=len(feature.support) + 1
            ).astype(np.int64)
        else:
            counts.feature_bins[name] = feature.bins.counts(column)
            counts.feature_cells[name] = feature.category_counts(column.dropna().astype(str))
    counts.score_bins = reference.score_bins.counts(chunk["score"].to_numpy(dtype=float))
    if "top_reason" in chunk:
        declined = chunk.loc[adverse, "top_reason"].dropna()
        counts.top_reasons = {str(k): int(v) for k, v in declined.value_counts().items() if v}  # categories: not 0s
    return counts


def ks_from_cells(feature: FeatureReference, cells: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic (exact, from the cells) and its asymptotic p-value."""
    n_ref, n = int(feature.support_counts.sum()), int(cells.sum())
    if n == 0:
        return float("nan"), float("nan")
    ref_at = np.cumsum(feature.support_counts) / n_ref  # F_ref(s_j)
    ref_before = np.concatenate([[0.0], ref_at[:-1]])  # F_ref(s_j^-)
    cumulative = np.cumsum(cells) / n
    sample_at = cumulative[1::2]  # cells 1, 3, ...: up to and including s_j
    sample_before = cumulative[0:-1:2]  # cells 0, 2, ...: strictly below s_j
    statistic = float(max(np.abs(ref_at - sample_at).max(), np.abs(ref_before - sample_before).max()))
    effective = n_ref * n / (n_ref + n)
    return statistic, float(stats.kstwo.sf(statistic, round(effective)) if effective >= 1 else np.nan)


def chi_square_from_counts(feature: FeatureReference, counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity, reference levels vs the period (levels new to the reference included)."""
    table = np.vstack([np.append(feature.support_counts, 0), counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0:
        return 0.0, 1.0
    statistic, p_value, _dof, _expected = stats.chi2_contingency(table, correction=False)
    return float(statistic), float(p_value)


def drift_table(reference: MonitoringReference, counts: PeriodCounts) -> pd.DataFrame:
    """Per feature: PSI on the reference bins, and KS (numbers) or chi-square (categories) with p-values."""
    rows = []
    for name, feature in reference.features.items():
        psi = psi_from_counts(feature.counts, counts.feature_bins[name])
        if feature.kind == "numeric":
            statistic, p_value = ks_from_cells(feature, counts.feature_cells[name])
            test = "KS"
        else:
            statistic, p_value = chi_square_from_counts(feature, counts.feature_cells[name])
            test = "chi-square"
        rows.append({"feature": name, "psi": psi, "test": test, "statistic": statistic, "p_value": p_value})
    return pd.DataFrame(rows)
