"""What production is compared with: the version's validation sample, binned once.

The reference is re-derived from the registry (the recorded spec, the hash-checked data and split), so it is
the very sample the validator saw. Every distribution is reduced to counts on bins fixed here, which is what
lets monitoring read ten million decisions in chunks and add the counts up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from workbench.decision import DecisionRule, decision_rule
from workbench.registry import get_version, load_artefact, load_recorded_samples
from workbench.spec import ModelSpec
from workbench.stats import Bins, fit_bins


@dataclass
class FeatureReference:
    """One feature's reference: PSI bins and their counts, and the exact distribution for KS / chi-square."""

    name: str
    kind: str  # "numeric" or "categorical"
    bins: Bins
    counts: np.ndarray
    support: np.ndarray  # numeric: sorted distinct reference values; categorical: the levels
    support_counts: np.ndarray  # reference count at each support value

    def ks_cells(self, values: np.ndarray) -> np.ndarray:
        """Counts of ``values`` in 2K+1 cells: below the first support value, at it, between it and the next, ...

        From these cells the sample's distribution function is known exactly at and just before every
        reference value, which is where the two-sample KS statistic is attained.
        """
        k = len(self.support)
        right = np.searchsorted(self.support, values, side="right")  # support values <= v
        at = (right > 0) & (self.support[np.maximum(right - 1, 0)] == values)  # v is a support value
        cells = np.where(at, 2 * right - 1, 2 * right)  # at support[right - 1], or strictly between
        return np.bincount(cells, minlength=2 * k + 1)

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of numeric ``values`` on the PSI bins (right-closed, missing values in the last bin)."""
        edges = np.asarray(self.bins.edges, dtype=float)
        codes = np.searchsorted(edges, values, side="left")
        codes[np.isnan(values)] = len(edges)
        return np.bincount(codes, minlength=len(edges) + 1)

    def category_counts(self, values: pd.Series) -> np.ndarray:
        """Counts per reference level, then one cell for levels the reference never had."""
        index = {level: i for i, level in enumerate(self.support)}
        codes = pd.Series(values).map(index).fillna(len(self.support)).to_numpy(dtype=np.int64)
        return np.bincount(codes, minlength=len(self.support) + 1)


@dataclass
class MonitoringReference:
    """The version, its spec and every reference distribution monitoring needs."""

    name: str
    version: int
    spec: ModelSpec
    features: dict[str, FeatureReference]
    score_bins: Bins
    score_counts: np.ndarray
    reference_scores: np.ndarray
    reference_approval_rate: float

    @property
    def rule(self) -> DecisionRule:
        """The version's decision rule, whose labels the decision records carry."""
        return decision_rule(self.spec)


def build_reference(spec: ModelSpec, validation: pd.DataFrame, scores: np.ndarray, name: str, version: int):
    """Bin the validation sample (deciles for numbers, one bin per level for categories)."""
    features = {}
    for column in spec.features.numeric:
        values = validation[column].dropna().to_numpy(dtype=float)
        bins = fit_bins(values, 10, categorical=False)
        support, support_counts = np.unique(values, return_counts=True)
        features[column] = FeatureReference(column, "numeric", bins, bins.counts(values), support, support_counts)
    for column in spec.features.categorical:
        values = validation[column].dropna().astype(str)
        bins = fit_bins(values, categorical=True)
        support, support_counts = np.unique(values.to_numpy(dtype=str), return_counts=True)
        features[column] = FeatureReference(
            column, "categorical", bins, bins.counts(values), support.astype(object), support_counts
        )
    score_bins = fit_bins(scores, 10, categorical=False)
    return MonitoringReference(
        name=name,
        version=version,
        spec=spec,
        features=features,
        score_bins=score_bins,
        score_counts=score_bins.counts(scores),
        reference_scores=scores,
        reference_approval_rate=decision_rule(spec).favourable_rate(scores),
    )


def reference_for(client: MlflowClient, name: str, version: int) -> MonitoringReference:
    """The reference of a registered version, from the registry alone."""
    entry = get_version(client, name, version)
    model, _sha = load_artefact(client, name, version)
    recorded = load_recorded_samples(client, name, version, dict(entry.tags), entry.run_id)
    scores = model.predict_proba(recorded.validation)[:, 1]
    return build_reference(recorded.spec, recorded.validation, scores, name, int(version))
